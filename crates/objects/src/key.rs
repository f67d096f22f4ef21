//! The rules a key must follow, checked before any storage is touched.
//!
//! Keys are `/`-separated like S3's, but they are also paths on the local backend, so a key
//! may not climb out of its namespace (`..`), name a directory (empty segments: a leading,
//! trailing or doubled `/`), look like the backend's staging files (`name#123`) or have a
//! segment longer than a file name may be.

use object_store::path::PathPart;

use crate::ObjectError;

/// S3's bound on a key.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest segment of a key (or a namespace) as the local backend names it on disk:
/// `object_store` percent-encodes some characters (every byte outside ASCII, `#`, `%` ...)
/// and adds `#<n>` to the name of a put's staging file, and a file name has at most 255
/// bytes (`NAME_MAX`).
pub const MAX_SEGMENT_BYTES: usize = 255 - 15;

/// The length of `segment` as a file name on the local backend.
pub fn stored_len(segment: &str) -> usize {
    PathPart::from(segment).as_ref().len()
}

/// Checks `key` against the rules; the error says which one it breaks.
pub fn validate_key(key: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| Err(ObjectError::InvalidKey(format!("The key '{key}' {why}.")));
    if key.is_empty() {
        return Err(ObjectError::InvalidKey("The key is empty.".to_string()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ObjectError::InvalidKey(format!(
            "The key is {} bytes long; keys are at most {MAX_KEY_BYTES} bytes.",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return bad("has an empty segment (a leading, trailing or doubled '/')"),
            "." | ".." => return bad("has a '.' or '..' segment"),
            _ => {}
        }
        if stored_len(segment) > MAX_SEGMENT_BYTES {
            return Err(ObjectError::InvalidKey(format!(
                "The key has a segment of {} bytes as stored; segments are at most \
                 {MAX_SEGMENT_BYTES} (a byte outside ASCII, and each of #%?*<>[]{{}}|^~`\"\\, \
                 counts three).",
                stored_len(segment)
            )));
        }
        if let Some((_, suffix)) = segment.rsplit_once('#') {
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                return bad("has a segment ending in '#' and digits, which is reserved");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_pass() {
        for key in [
            "a",
            "index.html",
            "models/tiny.bin",
            "a b/ç/日本.txt",
            "x#y",
            "percent%41",
            "dots.../..x",
        ] {
            validate_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        let longest = format!("{}/{}", vec!["k".repeat(200); 4].join("/"), "k".repeat(220));
        assert_eq!(longest.len(), MAX_KEY_BYTES);
        validate_key(&longest).unwrap();
    }

    #[test]
    fn escapes_empty_segments_and_long_keys_are_refused_with_the_reason() {
        let reason = |key: &str| validate_key(key).unwrap_err().to_string();
        assert_eq!(reason(""), "The key is empty.");
        assert!(reason("../etc/passwd").contains("'..' segment"));
        assert!(reason("a/../../b").contains("'..' segment"));
        assert!(reason("a/./b").contains("'.' or '..'"));
        assert!(reason("/abs").contains("empty segment"));
        assert!(reason("dir/").contains("empty segment"));
        assert!(reason("a//b").contains("empty segment"));
        assert!(reason("a\nb").contains("control character"));
        assert!(reason("part#12").contains("reserved"));
        assert!(reason(&"k".repeat(MAX_KEY_BYTES + 1)).contains("at most 1024 bytes"));
        let long = "k".repeat(MAX_SEGMENT_BYTES + 1);
        assert!(reason(&format!("a/{long}")).contains("segments are at most 240"));
        // Stored percent-encoded: 81 three-byte characters are 729 bytes on disk.
        assert!(reason(&"日".repeat(81)).contains("segment of 729 bytes"));
        validate_key(&format!("a/{}", "k".repeat(MAX_SEGMENT_BYTES))).unwrap();
    }
}
