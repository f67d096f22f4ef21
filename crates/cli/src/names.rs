//! Entity names as users type them, and the URL paths they map to.
//!
//! `x` and `pkg/x` live in the caller's namespace; `/ns/x`, `/ns/pkg/x` and `ns/pkg/x` name one
//! explicitly. The server validates the characters; here we only split and encode.

use std::fmt;

use crate::error::usage;

/// A fully qualified entity name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedName {
    pub namespace: String,
    pub package: Option<String>,
    pub name: String,
}

impl QualifiedName {
    /// Parses an action (or other package-able entity) name.
    pub fn parse(raw: &str, default_namespace: &str) -> anyhow::Result<Self> {
        let (explicit, parts) = split(raw)?;
        let own = |s: &str| s.to_string();
        match (explicit, parts.as_slice()) {
            (false, [name]) => Ok(Self::new(default_namespace, None, name)),
            (false, [package, name]) => Ok(Self::new(default_namespace, Some(own(package)), name)),
            (true, [namespace, name]) => Ok(Self::new(namespace, None, name)),
            (_, [namespace, package, name]) => Ok(Self::new(namespace, Some(own(package)), name)),
            _ => Err(bad_name(raw)),
        }
    }

    /// Parses a package name (`pkg` or `/ns/pkg`): packages do not nest.
    pub fn parse_package(raw: &str, default_namespace: &str) -> anyhow::Result<Self> {
        Self::parse_unpackaged(raw, default_namespace, "package")
    }

    /// Parses the name of an entity that cannot be in a package (a package, trigger or rule):
    /// `name` or `/ns/name`. `what` names the kind in the error message.
    pub fn parse_unpackaged(
        raw: &str,
        default_namespace: &str,
        what: &str,
    ) -> anyhow::Result<Self> {
        match split(raw)? {
            (false, parts) if parts.len() == 1 => Ok(Self::new(default_namespace, None, parts[0])),
            (true, parts) if parts.len() == 2 => Ok(Self::new(parts[0], None, parts[1])),
            _ => {
                let upper = what.to_ascii_uppercase();
                Err(usage(format!(
                    "'{raw}' is not a {what} name; use {upper} or /NAMESPACE/{upper}"
                )))
            }
        }
    }

    fn new(namespace: &str, package: Option<String>, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            package,
            name: name.to_string(),
        }
    }

    /// `namespaces/{ns}/{collection}/[{pkg}/]{name}`, each segment percent-encoded.
    pub fn path(&self, collection: &str) -> String {
        let mut path = format!(
            "namespaces/{}/{collection}/",
            encode_segment(&self.namespace)
        );
        if let Some(package) = &self.package {
            path.push_str(&encode_segment(package));
            path.push('/');
        }
        path.push_str(&encode_segment(&self.name));
        path
    }

    /// The name relative to its namespace (`pkg/x` or `x`), as the activation `name` filter wants.
    pub fn relative(&self) -> String {
        match &self.package {
            Some(package) => format!("{package}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.namespace, self.relative())
    }
}

fn split(raw: &str) -> anyhow::Result<(bool, Vec<&str>)> {
    let trimmed = raw.trim();
    let (explicit, rest) = match trimmed.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad_name(raw));
    }
    Ok((explicit, parts))
}

fn bad_name(raw: &str) -> anyhow::Error {
    usage(format!(
        "'{raw}' is not a valid name; use NAME, PACKAGE/NAME, /NAMESPACE/NAME or /NAMESPACE/PACKAGE/NAME"
    ))
}

/// Percent-encodes one path segment: everything but unreserved characters and the `@` and `&`
/// that entity names may contain.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@&".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> QualifiedName {
        QualifiedName::parse(raw, "_").unwrap()
    }

    #[test]
    fn simple_and_packaged_names_use_the_default_namespace() {
        assert_eq!(parse("x").to_string(), "/_/x");
        assert_eq!(parse("pkg/x").to_string(), "/_/pkg/x");
        assert_eq!(
            QualifiedName::parse("x", "guest").unwrap().to_string(),
            "/guest/x"
        );
    }

    #[test]
    fn explicit_namespaces() {
        assert_eq!(parse("/ns/x").to_string(), "/ns/x");
        assert_eq!(parse("/ns/x").package, None);
        assert_eq!(parse("/ns/pkg/x").to_string(), "/ns/pkg/x");
        assert_eq!(parse("ns/pkg/x").namespace, "ns");
    }

    #[test]
    fn malformed_names_are_usage_errors() {
        for raw in ["", "/", "/ns", "a//b", "x/", "/a/b/c/d", "a/b/c/d"] {
            assert!(QualifiedName::parse(raw, "_").is_err(), "{raw:?}");
        }
    }

    #[test]
    fn paths_encode_each_segment() {
        assert_eq!(parse("x").path("actions"), "namespaces/_/actions/x");
        assert_eq!(
            parse("/my ns/my pkg/a&b@c").path("actions"),
            "namespaces/my%20ns/actions/my%20pkg/a&b@c"
        );
        assert_eq!(encode_segment("a/b?c#é"), "a%2Fb%3Fc%23%C3%A9");
    }

    #[test]
    fn relative_names() {
        assert_eq!(parse("/ns/pkg/x").relative(), "pkg/x");
        assert_eq!(parse("x").relative(), "x");
    }

    #[test]
    fn package_names() {
        let pkg = QualifiedName::parse_package("utils", "_").unwrap();
        assert_eq!(pkg.to_string(), "/_/utils");
        let pkg = QualifiedName::parse_package("/ns/utils", "_").unwrap();
        assert_eq!((pkg.namespace.as_str(), pkg.name.as_str()), ("ns", "utils"));
        assert!(QualifiedName::parse_package("a/b", "_").is_err());
        assert!(QualifiedName::parse_package("/ns", "_").is_err());
        let err = QualifiedName::parse_unpackaged("a/b", "_", "trigger").unwrap_err();
        assert_eq!(
            err.to_string(),
            "'a/b' is not a trigger name; use TRIGGER or /NAMESPACE/TRIGGER"
        );
    }
}
