//! CSV (RFC 4180) for spreadsheets: UTF-8 with a byte-order mark, which is how Excel in a
//! Chinese locale knows the file is UTF-8; CRLF line ends; a field quoted when it holds a
//! comma, a quote or a line end. A formula-like text gets a leading `'`, so that it opens as
//! text.

use super::{Sheet, Value, formula_like};

pub fn write(sheet: &Sheet) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let header: Vec<String> = sheet.headers.iter().map(|h| field(h)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &sheet.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|value| match value {
                Value::Text(text) if formula_like(text) => field(&format!("'{text}")),
                Value::Text(text) => field(text),
                Value::Number(n) => number(*n),
                Value::Empty => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Whole numbers without a decimal point.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_neutralised() {
        let sheet = Sheet {
            title: "微党课台账",
            headers: vec!["题目", "人数"],
            rows: vec![
                vec![
                    Value::Text("=HYPERLINK(\"http://x\",\"点我\")".into()),
                    Value::Number(30.0),
                ],
                vec![
                    Value::Text("两行\n内容, 有\"引号\"".into()),
                    Value::Number(2.5),
                ],
                vec![Value::Empty, Value::Empty],
            ],
        };
        let text = String::from_utf8(write(&sheet)).unwrap();
        assert_eq!(
            text,
            "\u{feff}题目,人数\r\n\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\",30\r\n\"两行\n内容, 有\"\"引号\"\"\",2.5\r\n,\r\n"
        );
    }
}
