//! Web actions: pure functions between an HTTP request and an activation.
//!
//! `url` splits `/web/{ns}/{pkg|default}/{action}[.ext][/rest]`, `request` builds the action's
//! arguments, `response` projects its result onto an HTTP response, `media` classifies content
//! types for both. The handler that does the IO is `routes/web.rs`.

pub mod media;
pub mod request;
pub mod response;
pub mod url;

/// The response format a web URL asks for with its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    Http,
    Json,
    Html,
    Svg,
    Text,
}

impl Extension {
    /// Splits `name.ext` into the action name and a known extension; without one the whole
    /// segment is the name and the format is `.http`.
    pub fn split(segment: &str) -> (&str, Extension) {
        const KNOWN: [(&str, Extension); 5] = [
            (".http", Extension::Http),
            (".json", Extension::Json),
            (".html", Extension::Html),
            (".svg", Extension::Svg),
            (".text", Extension::Text),
        ];
        KNOWN
            .iter()
            .find_map(|(suffix, ext)| segment.strip_suffix(suffix).map(|name| (name, *ext)))
            .unwrap_or((segment, Extension::Http))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_split_off_known_suffixes_only() {
        assert_eq!(Extension::split("hello.json"), ("hello", Extension::Json));
        assert_eq!(Extension::split("hello.text"), ("hello", Extension::Text));
        assert_eq!(Extension::split("hello"), ("hello", Extension::Http));
        assert_eq!(
            Extension::split("hello.txt"),
            ("hello.txt", Extension::Http)
        );
        assert_eq!(Extension::split("a.b.svg"), ("a.b", Extension::Svg));
    }
}
