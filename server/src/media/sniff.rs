//! What a file is, from its first bytes. A declared media type is a claim; the bytes are the
//! file. Only photos, audio and video are taken, and each is stored as what its bytes say.

/// How many bytes are enough to tell.
pub const NEEDED: usize = 64;

/// The media types taken, by what the bytes say, as (container, types it may be declared as).
/// The first type of each is what a file is stored as when its declared type is not one of
/// them: a WebM file declared `audio/webm` is audio, one declared `application/octet-stream`
/// is stored as `video/webm`.
const FAMILIES: &[(&str, &[&str])] = &[
    ("jpeg", &["image/jpeg"]),
    ("png", &["image/png"]),
    ("webp", &["image/webp"]),
    ("heic", &["image/heic", "image/heif"]),
    (
        "mp4",
        &["video/mp4", "audio/mp4", "audio/x-m4a", "audio/aac"],
    ),
    ("quicktime", &["video/quicktime"]),
    ("3gpp", &["video/3gpp", "audio/3gpp"]),
    ("webm", &["video/webm", "audio/webm"]),
    ("ogg", &["audio/ogg", "video/ogg"]),
    ("mp3", &["audio/mpeg"]),
    ("wav", &["audio/wav", "audio/x-wav", "audio/wave"]),
    ("aac", &["audio/aac"]),
    ("amr", &["audio/amr"]),
];

/// The container the bytes are, if it is one we take.
fn container(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some("jpeg");
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some("png");
    }
    if starts(b"RIFF") && at(8, b"WEBP") {
        return Some("webp");
    }
    if starts(b"RIFF") && at(8, b"WAVE") {
        return Some("wav");
    }
    if at(4, b"ftyp") {
        let brand = bytes.get(8..12)?;
        return Some(match brand {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => "heic",
            b"qt  " => "quicktime",
            b"3gp4" | b"3gp5" | b"3gp6" | b"3g2a" => "3gpp",
            _ => "mp4",
        });
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // Matroska: WebM names its doctype in the EBML header.
        let header = &bytes[..bytes.len().min(NEEDED)];
        return header.windows(4).any(|w| w == b"webm").then_some("webm");
    }
    if starts(b"OggS") {
        return Some("ogg");
    }
    if starts(b"ID3")
        || (bytes.len() > 1 && bytes[0] == 0xFF && matches!(bytes[1], 0xFB | 0xF3 | 0xF2))
    {
        return Some("mp3");
    }
    if bytes.len() > 1 && bytes[0] == 0xFF && matches!(bytes[1], 0xF1 | 0xF9) {
        return Some("aac");
    }
    if starts(b"#!AMR") {
        return Some("amr");
    }
    None
}

/// A declared type without its parameters, in lower case: MediaRecorder declares
/// `video/mp4;codecs=avc1,opus`, which is a `video/mp4`.
pub fn essence(declared: &str) -> String {
    declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `declared` is a type we take at all (checked before any byte is sent).
pub fn accepted(declared: &str) -> bool {
    FAMILIES.iter().any(|(_, types)| types.contains(&declared))
        || declared == "application/octet-stream"
}

/// What to store a file as: `None` if its bytes are not a photo, audio or video we take.
pub fn media_type(first_bytes: &[u8], declared: &str) -> Option<&'static str> {
    let container = container(first_bytes)?;
    let (_, types) = FAMILIES.iter().find(|(name, _)| *name == container)?;
    Some(
        types
            .iter()
            .find(|t| **t == declared)
            .copied()
            .unwrap_or(types[0]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_case_do_not_change_the_type() {
        assert_eq!(essence("video/mp4;codecs=avc1,opus"), "video/mp4");
        assert_eq!(essence(" Audio/WebM ; codecs=opus"), "audio/webm");
        assert_eq!(essence(""), "");
    }

    #[test]
    fn the_bytes_decide_and_the_declared_type_only_chooses_within_them() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        assert_eq!(media_type(&jpeg, "image/jpeg"), Some("image/jpeg"));
        // A JPEG declared as a video is still a JPEG.
        assert_eq!(media_type(&jpeg, "video/mp4"), Some("image/jpeg"));
        let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41";
        assert_eq!(media_type(mp4, "audio/mp4"), Some("audio/mp4"));
        assert_eq!(media_type(mp4, "image/png"), Some("video/mp4"));
        let webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm";
        assert_eq!(media_type(webm, "audio/webm"), Some("audio/webm"));
        assert_eq!(
            media_type(webm, "application/octet-stream"),
            Some("video/webm")
        );
        assert_eq!(media_type(b"#!AMR\n", "audio/amr"), Some("audio/amr"));
        // Scripts, documents and executables are none of these, whatever they claim.
        assert_eq!(media_type(b"<html><script>", "image/jpeg"), None);
        assert_eq!(media_type(b"%PDF-1.7", "video/mp4"), None);
        assert_eq!(media_type(b"MZ\x90\0", "audio/mpeg"), None);
        assert!(accepted("video/mp4") && !accepted("text/html"));
    }
}
