//! Content types as web actions see them: JSON-family, text, or binary (carried as base64).

/// A parsed `type/subtype[; params]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub main: String,
    pub sub: String,
    pub has_charset: bool,
}

impl MediaType {
    /// `None` when the value is not a media type.
    pub fn parse(value: &str) -> Option<MediaType> {
        let mut params = value.split(';');
        let (main, sub) = params.next()?.trim().split_once('/')?;
        let token = |s: &str| !s.is_empty() && s.bytes().all(is_token_byte);
        if !token(main) || !token(sub) {
            return None;
        }
        let has_charset = params.any(|p| {
            p.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        });
        Some(MediaType {
            main: main.to_ascii_lowercase(),
            sub: sub.to_ascii_lowercase(),
            has_charset,
        })
    }

    pub fn is(&self, main: &str, sub: &str) -> bool {
        self.main == main && self.sub == sub
    }

    /// `application/json` or any `+json` type.
    pub fn is_json_family(&self) -> bool {
        self.is("application", "json") || self.sub.ends_with("+json")
    }

    pub fn is_form(&self) -> bool {
        self.is("application", "x-www-form-urlencoded")
    }

    /// Binary types travel as base64 in `__ow_body` and in `.http` results. Text types are
    /// `text/*`, the JSON and XML families, scripts, forms, and anything naming a charset;
    /// everything else (images, audio, octet-stream, unknown types) is binary.
    pub fn is_binary(&self) -> bool {
        let textual = self.main == "text"
            || self.has_charset
            || self.is_json_family()
            || self.sub == "xml"
            || self.sub.ends_with("+xml")
            || self.is_form()
            || (self.main == "application"
                && matches!(
                    self.sub.as_str(),
                    "javascript" | "x-javascript" | "ecmascript" | "graphql"
                ));
        !textual
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(s: &str) -> MediaType {
        MediaType::parse(s).unwrap()
    }

    #[test]
    fn parses_types_and_charset() {
        assert_eq!(
            mt("Text/HTML; charset=utf-8"),
            MediaType {
                main: "text".into(),
                sub: "html".into(),
                has_charset: true
            }
        );
        assert!(!mt("application/json").has_charset);
        for bad in ["", "json", "a b/c", "text/", "/html"] {
            assert_eq!(MediaType::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn families() {
        assert!(mt("application/json").is_json_family());
        assert!(mt("application/vnd.api+json").is_json_family());
        assert!(!mt("text/json-ish").is_json_family());
        for text in [
            "text/plain",
            "application/json",
            "application/xml",
            "image/svg+xml",
            "application/x-www-form-urlencoded",
            "application/x-custom; charset=utf-8",
        ] {
            assert!(!mt(text).is_binary(), "{text}");
        }
        for binary in [
            "image/png",
            "application/octet-stream",
            "audio/mpeg",
            "application/x-custom",
        ] {
            assert!(mt(binary).is_binary(), "{binary}");
        }
    }
}
