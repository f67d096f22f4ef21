//! The address of a web action: `{namespace}/{package|default}/{action}[.{ext}][/{rest}]`.

use percent_encoding::percent_decode_str;
use wisp_core::{EntityName, EntityPath};

use super::Extension;

/// What a web URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl {
    pub action: EntityPath,
    pub extension: Extension,
    /// The path after the action segment, as sent (`"/a/b"`, or `""`): `__ow_path`.
    pub rest: String,
}

/// Parses the part of the path after `/api/v1/web/`; `None` when it names no valid action,
/// which the caller answers like a missing action.
pub fn parse(path: &str) -> Option<WebUrl> {
    let mut parts = path.splitn(4, '/');
    let namespace = name(parts.next()?)?;
    let package = match decode(parts.next()?)?.as_str() {
        "default" => None,
        other => Some(EntityName::parse(other).ok()?),
    };
    let segment = decode(parts.next()?)?;
    let (action, extension) = Extension::split(&segment);
    let action = EntityName::parse(action).ok()?;
    let rest = parts.next().map(|r| format!("/{r}")).unwrap_or_default();
    Some(WebUrl {
        action: EntityPath::new(namespace, package, action),
        extension,
        rest,
    })
}

fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn name(segment: &str) -> Option<EntityName> {
    EntityName::parse(&decode(segment)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> EntityName {
        EntityName::parse(s).unwrap()
    }

    #[test]
    fn default_package_extension_and_rest() {
        let url = parse("guest/default/hello.json/a/b").unwrap();
        assert_eq!(url.action, EntityPath::new(n("guest"), None, n("hello")));
        assert_eq!(url.extension, Extension::Json);
        assert_eq!(url.rest, "/a/b");
    }

    #[test]
    fn packages_and_encoded_names() {
        let url = parse("guest/utils/my%20action").unwrap();
        assert_eq!(
            url.action,
            EntityPath::new(n("guest"), Some(n("utils")), n("my action"))
        );
        assert_eq!(url.extension, Extension::Http);
        assert_eq!(url.rest, "");
        assert_eq!(parse("guest/default/hello/").unwrap().rest, "/");
    }

    #[test]
    fn incomplete_or_invalid_paths_name_nothing() {
        for bad in [
            "",
            "guest",
            "guest/default",
            "guest/default/",
            "gu$st/default/a",
            "guest/default/.json",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
