//! The rules a key must follow, checked before any storage is touched.
//!
//! Keys are `/`-separated like S3's, but they are also paths on the local backend, so a key
//! may not climb out of its namespace (`..`), name a directory (empty segments: a leading,
//! trailing or doubled `/`) or look like the backend's staging files (`name#123`).

use crate::ObjectError;

/// S3's bound on a key.
pub const MAX_KEY_BYTES: usize = 1024;

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
        validate_key(&"k".repeat(MAX_KEY_BYTES)).unwrap();
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
    }
}
