//! The request headers a static file answers to: `Accept-Encoding`, `If-None-Match`,
//! `If-Modified-Since`, `If-Range`. Pure functions of header values.

/// A content coding the site can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }

    /// Each coding of a file is its own representation, so its own ETag.
    pub fn etag(self, version: &str) -> String {
        match self {
            Coding::Identity => format!("\"{version}\""),
            Coding::Gzip => format!("\"{version}-gz\""),
            Coding::Brotli => format!("\"{version}-br\""),
        }
    }
}

/// The codings the client accepts, best first (brotli is smaller than gzip for text).
pub fn preferred(accept_encoding: &str) -> Vec<Coding> {
    let accepted = |name: &str| {
        accept_encoding.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    let mut codings = Vec::new();
    if accepted("br") {
        codings.push(Coding::Brotli);
    }
    if accepted("gzip") {
        codings.push(Coding::Gzip);
    }
    codings
}

/// Whether a type is text-like enough that compressing it pays.
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence.as_str(),
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "application/manifest+json"
                | "image/svg+xml"
                | "font/ttf"
                | "font/otf"
        )
}

/// Whether the client's copy is current: `If-None-Match` names the file's version (in any
/// coding; `*` matches anything), or, only when that header is absent, `If-Modified-Since` is
/// no earlier than the file's modification (to the second, as HTTP dates go).
pub fn not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    version: &str,
    modified_secs: u64,
) -> bool {
    if let Some(tags) = if_none_match {
        return tags.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || same_version(tag, version)
        });
    }
    if_modified_since
        .and_then(|date| httpdate::parse_http_date(date).ok())
        .and_then(|since| since.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|since| modified_secs <= since.as_secs())
}

/// Whether a `Range` request still applies: without `If-Range`, or with one naming the
/// current version or a date no earlier than the modification.
pub fn range_applies(if_range: Option<&str>, version: &str, modified_secs: u64) -> bool {
    match if_range {
        None => true,
        Some(value) if value.trim_start().starts_with(['"', 'W']) => {
            same_version(value.trim(), version)
        }
        Some(date) => not_modified(None, Some(date), version, modified_secs),
    }
}

/// An entity tag from a header against the version: weak or strong, in any coding.
fn same_version(tag: &str, version: &str) -> bool {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let base = inner
        .strip_suffix("-gz")
        .or_else(|| inner.strip_suffix("-br"))
        .unwrap_or(inner);
    base == version
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brotli_is_preferred_and_q_zero_refuses() {
        assert_eq!(
            preferred("gzip, deflate, br"),
            [Coding::Brotli, Coding::Gzip]
        );
        assert_eq!(preferred("gzip;q=1.0, br;q=0"), [Coding::Gzip]);
        assert_eq!(preferred("identity"), []);
        assert_eq!(preferred(""), []);
    }

    #[test]
    fn text_types_are_compressed_and_images_are_not() {
        for t in [
            "text/html; charset=utf-8",
            "application/javascript",
            "image/svg+xml",
        ] {
            assert!(compressible(t), "{t}");
        }
        for t in ["image/png", "application/zip", "video/mp4"] {
            assert!(!compressible(t), "{t}");
        }
    }

    #[test]
    fn conditional_requests_match_any_coding_of_the_version() {
        let at = 1_700_000_000;
        assert!(not_modified(Some("\"v1\""), None, "v1", at));
        assert!(not_modified(Some("\"x\", W/\"v1-gz\""), None, "v1", at));
        assert!(not_modified(Some("*"), None, "v1", at));
        assert!(!not_modified(Some("\"v0\""), None, "v1", at));
        assert!(
            !not_modified(Some("v1"), None, "v1", at),
            "unquoted is no tag"
        );
        let date =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(at));
        assert!(not_modified(None, Some(&date), "v1", at));
        assert!(!not_modified(None, Some(&date), "v1", at + 1));
        // If-None-Match wins over If-Modified-Since.
        assert!(!not_modified(Some("\"v0\""), Some(&date), "v1", at));
        assert!(range_applies(None, "v1", at));
        assert!(range_applies(Some("\"v1\""), "v1", at));
        assert!(!range_applies(Some("\"v0\""), "v1", at));
    }
}
