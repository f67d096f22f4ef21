//! What a site URL names, decided before any storage is touched.
//!
//! The path arrives percent-encoded. `/api/<package>/<action>...` is the namespace's web
//! actions (same origin, so front ends need no CORS); anything else is a file of the web
//! bucket. A path that could climb out of the site or smuggle a separator past this check
//! (`..`, `.`, an encoded `/` or `\`, a NUL) is refused outright rather than normalised: no
//! browser sends one for a link on the site, so it can only be a probe.

use percent_encoding::percent_decode_str;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SitePath {
    /// A web action: the path after `/api/` as sent (`<package>/<action>[.<ext>][/rest]`).
    Api(String),
    /// A file or directory of the web bucket.
    File(FilePath),
}

/// A decoded path inside the web bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    /// The key it names, without the leading `/`; empty for the site's root.
    pub key: String,
    /// The URL ended with `/`: a directory, answered with its index page.
    pub directory: bool,
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Classifies `raw`, the request path below the site's root (starting with `/`).
pub fn classify(raw: &str) -> Result<SitePath, Refused> {
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    if let Some(rest) = raw.strip_prefix("api/") {
        return Ok(SitePath::Api(rest.to_string()));
    }
    let directory = raw.is_empty() || raw.ends_with('/');
    let mut segments = Vec::new();
    for encoded in raw.split('/') {
        if encoded.is_empty() {
            continue;
        }
        let lower = encoded.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") || encoded.contains('\\') {
            return Err(Refused("an encoded path separator"));
        }
        let segment = percent_decode_str(encoded)
            .decode_utf8()
            .map_err(|_| Refused("a path that is not UTF-8"))?;
        match segment.as_ref() {
            "." | ".." => return Err(Refused("a '.' or '..' segment")),
            s if s.chars().any(char::is_control) => return Err(Refused("a control character")),
            _ => segments.push(segment.into_owned()),
        }
    }
    Ok(SitePath::File(FilePath {
        key: segments.join("/"),
        directory,
    }))
}

impl FilePath {
    /// The key of the page answering for this path as a directory (`<key>/<index>`).
    pub fn index_key(&self, index: &str) -> String {
        if self.key.is_empty() {
            index.to_string()
        } else {
            format!("{}/{index}", self.key)
        }
    }

    /// Whether the last segment has no extension: a route of a single-page app rather than a
    /// missing asset (`/settings/profile`, not `/app.js`), so SPA mode answers it with the
    /// index page.
    pub fn looks_like_a_route(&self) -> bool {
        self.directory || !self.key.rsplit('/').next().unwrap_or("").contains('.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, directory: bool) -> SitePath {
        SitePath::File(FilePath {
            key: key.to_string(),
            directory,
        })
    }

    #[test]
    fn files_directories_and_api_calls_are_told_apart() {
        assert_eq!(classify("/"), Ok(file("", true)));
        assert_eq!(classify("/index.html"), Ok(file("index.html", false)));
        assert_eq!(classify("/docs/"), Ok(file("docs", true)));
        assert_eq!(classify("/a%20b/%C3%A7.txt"), Ok(file("a b/ç.txt", false)));
        assert_eq!(classify("//a//b"), Ok(file("a/b", false)));
        assert_eq!(
            classify("/api/counter/incr.json"),
            Ok(SitePath::Api("counter/incr.json".into()))
        );
    }

    #[test]
    fn traversal_and_smuggled_separators_are_refused() {
        for raw in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/secret",
            "/a/%2E%2E/b",
            "/a%2Fb",
            "/a%2f..%2fb",
            "/a%5cb",
            "/a\\b",
            "/./x",
            "/a%00b",
            "/%ff",
        ] {
            assert!(classify(raw).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn routes_are_paths_without_an_extension() {
        let path = |key: &str| FilePath {
            key: key.into(),
            directory: false,
        };
        assert!(path("settings/profile").looks_like_a_route());
        assert!(!path("app.js").looks_like_a_route());
        assert!(
            path("v1.2/notes").looks_like_a_route(),
            "only the last segment counts"
        );
        assert_eq!(path("docs").index_key("index.html"), "docs/index.html");
        assert_eq!(path("").index_key("index.html"), "index.html");
    }
}
