//! XLSX, written by `rust_xlsxwriter`: a bold, frozen header row, columns wide enough for
//! their Chinese headers, numbers as numbers, and every text as a text cell. A formula-like
//! text is written as text with Excel's quote prefix, so that it shows exactly as typed and
//! stays text even when someone edits the cell.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{Sheet, Value, formula_like};

/// The widest a column is made, in characters.
const WIDEST: f64 = 60.0;

pub fn write(sheet: &Sheet) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet.title)?;
    let bold = Format::new().set_bold();
    let quoted = Format::new().set_quote_prefix();
    let mut widths: Vec<f64> = sheet.headers.iter().map(|h| width(h)).collect();
    for (col, header) in sheet.headers.iter().enumerate() {
        worksheet.write_string_with_format(0, column(col), *header, &bold)?;
    }
    for (index, row) in sheet.rows.iter().enumerate() {
        let line = u32::try_from(index + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (col, value) in row.iter().enumerate() {
            match value {
                Value::Text(text) if formula_like(text) => {
                    worksheet.write_string_with_format(line, column(col), text, &quoted)?;
                }
                Value::Text(text) => {
                    worksheet.write_string(line, column(col), text)?;
                }
                Value::Number(n) => {
                    worksheet.write_number(line, column(col), *n)?;
                }
                Value::Empty => continue,
            }
            if let (Value::Text(text), Some(w)) = (value, widths.get_mut(col)) {
                *w = w.max(width(text));
            }
        }
    }
    for (col, w) in widths.iter().enumerate() {
        worksheet.set_column_width(column(col), w.min(WIDEST) + 2.0)?;
    }
    worksheet.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}

fn column(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

/// How wide `text` shows: a Chinese character takes two columns; a long text's first line.
fn width(text: &str) -> f64 {
    let line = text.lines().next().unwrap_or("");
    line.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.0 })
        .sum()
}
