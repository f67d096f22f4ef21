//! HTTP `Range` requests, as the object routes and the sites serve them.

use wisp_objects::ByteRange;

/// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`. Anything else (several ranges, other
/// units, nonsense) is ignored, as HTTP allows: the whole object is sent.
pub fn parse_range(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    match (start.is_empty(), end.is_empty()) {
        (true, false) => Some(ByteRange::Suffix(end.parse().ok()?)),
        (false, true) => Some(ByteRange::From(start.parse().ok()?)),
        (false, false) => {
            let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
            (start <= end).then(|| ByteRange::Bounded(start..end.saturating_add(1)))
        }
        (true, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_http_has_them() {
        assert_eq!(parse_range("bytes=0-9"), Some(ByteRange::Bounded(0..10)));
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(ByteRange::Suffix(3)));
        for ignored in [
            "bytes=1-2,4-5",
            "items=0-1",
            "bytes=5-1",
            "bytes=-",
            "bytes=x-1",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }
}
