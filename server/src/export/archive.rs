//! A period's approved media as one ZIP, laid out by branch and record:
//! `合益村/2026-10-31 微党课 忆扶贫故事 (1a2b3c4d)/1.jpg`. Entries are stored, not deflated:
//! photos, audio and video are compressed already. The archive is written as a stream (sizes
//! and checksums after each entry), so a year of video never has to fit in memory or on disk.
//! A file whose upload never finished is not in the archive; `未收到的文件.txt` lists it.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::store::RecordFile;

/// The longest a name taken from a record's title is, in characters.
const LONGEST_NAME: usize = 40;

/// Writes the archive of `files` to `out`, reading each blob from `blob(sha256)`: `None` for
/// a blob that is not stored. An error reading one fails the archive, rather than list as
/// never received a file that is.
pub fn write<R: Read>(
    files: &[RecordFile],
    mut blob: impl FnMut(&str) -> io::Result<Option<R>>,
    out: impl Write,
) -> zip::result::ZipResult<()> {
    let mut zip = ZipWriter::new_stream(out);
    let mut missing = Vec::new();
    let mut written = BTreeSet::new();
    let mut number_in_record = 0;
    let mut last_record = None;
    for file in files {
        let folder = folder(file);
        // A record that names the same file twice gets it once.
        if !written.insert((folder.clone(), file.sha256.clone())) {
            continue;
        }
        if last_record.as_ref() != Some(&folder) {
            number_in_record = 0;
            last_record = Some(folder.clone());
        }
        number_in_record += 1;
        let name = format!(
            "{folder}/{number_in_record}.{}",
            extension(&file.media_type)
        );
        let Some(mut bytes) = blob(&file.sha256)? else {
            missing.push(format!("{name}\t{}\t{} 字节", file.sha256, file.size));
            continue;
        };
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(file.size > i64::from(u32::MAX) - 1);
        zip.start_file(name, options)?;
        io::copy(&mut bytes, &mut zip)?;
    }
    if !missing.is_empty() {
        zip.start_file(
            "未收到的文件.txt",
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
        )?;
        let text = format!(
            "这些文件还没有从手机上传完，所以不在压缩包里：\r\n{}\r\n",
            missing.join("\r\n")
        );
        zip.write_all(text.as_bytes())?;
    }
    zip.finish()?;
    Ok(())
}

/// The folder of a record: its branch, then its day, kind, title and the end of its id.
fn folder(file: &RecordFile) -> String {
    let day = file
        .occurred_at
        .map(|at| at.cst_date().to_string())
        .unwrap_or_default();
    let kind = match file.collection.as_str() {
        "lectures" => "微党课",
        "services" => "志愿服务",
        _ => "走访",
    };
    let tail: String = file
        .key
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "{}/{day} {kind} {} ({tail})",
        safe(&file.branch),
        safe(&file.title)
    )
}

/// A name safe as one path component on every system: no separators or characters Windows
/// refuses, no control characters, no leading or trailing dots or spaces, not too long.
fn safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .take(LONGEST_NAME)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        "_".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/heic" => "heic",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/ogg" => "ogg",
        "audio/webm" => "weba",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "video/quicktime" => "mov",
        "video/3gpp" => "3gp",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_titles_cannot_climb_out_of_their_folder() {
        assert_eq!(safe("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe("..\\..\\x"), "_.._x");
        assert_eq!(safe("  ..  "), "_");
        assert_eq!(safe("忆扶贫故事：做合格党员"), "忆扶贫故事：做合格党员");
        assert_eq!(safe("a\u{0}b\nc"), "a_b_c");
        assert_eq!(safe(&"长".repeat(100)).chars().count(), LONGEST_NAME);
    }
}
