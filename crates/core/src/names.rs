//! Entity names and paths, with OpenWhisk's validation rules.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest allowed entity name segment, in characters.
pub const MAX_NAME_LENGTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("The name of the entity contains illegal characters.")]
    IllegalCharacters,
    #[error("The namespace contains illegal characters.")]
    IllegalNamespace,
    #[error("Name segement longer than allowed: {0} > 256.")]
    TooLong(usize),
}

/// A validated simple name: a namespace, package, action, trigger or rule name.
///
/// First character a letter, digit or `_`; then letters, digits, `_ @ . & -` and space; the
/// last character is not a space; at most 256 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityName(String);

impl EntityName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let count = raw.chars().count();
        if count > MAX_NAME_LENGTH {
            return Err(NameError::TooLong(count));
        }
        if is_valid_name(raw) {
            Ok(Self(raw.to_string()))
        } else {
            Err(NameError::IllegalCharacters)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_valid_name(raw: &str) -> bool {
    let chars: Vec<char> = raw.chars().collect();
    match chars.as_slice() {
        [] => false,
        [only] => is_word(*only),
        [first, middle @ .., last] => {
            is_word(*first)
                && middle
                    .iter()
                    .all(|c| is_word(*c) || matches!(c, '@' | '.' | '&' | '-' | ' '))
                && (is_word(*last) || matches!(last, '@' | '.' | '&' | '-'))
        }
    }
}

impl TryFrom<String> for EntityName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EntityName> for String {
    fn from(value: EntityName) -> Self {
        value.0
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EntityName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Where an entity lives: its namespace and, for actions, an optional package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityPath {
    pub namespace: EntityName,
    pub package: Option<EntityName>,
    pub name: EntityName,
}

impl EntityPath {
    pub fn new(namespace: EntityName, package: Option<EntityName>, name: EntityName) -> Self {
        Self {
            namespace,
            package,
            name,
        }
    }

    /// The `namespace` field of an entity document: `ns` or `ns/pkg`.
    pub fn parent(&self) -> String {
        match &self.package {
            Some(pkg) => format!("{}/{}", self.namespace, pkg),
            None => self.namespace.to_string(),
        }
    }

    /// `ns/[pkg/]name`, as in the `path` annotation of an activation.
    pub fn relative(&self) -> String {
        format!("{}/{}", self.parent(), self.name)
    }

    /// `/ns/[pkg/]name`, as in `__OW_ACTION_NAME`.
    pub fn fully_qualified(&self) -> String {
        format!("/{}", self.relative())
    }

    /// The path of the package this entity is in, if any.
    pub fn package_path(&self) -> Option<EntityPath> {
        self.package
            .as_ref()
            .map(|pkg| EntityPath::new(self.namespace.clone(), None, pkg.clone()))
    }

    /// The name within the namespace: `[pkg/]name`.
    pub fn local(&self) -> String {
        match &self.package {
            Some(pkg) => format!("{}/{}", pkg, self.name),
            None => self.name.to_string(),
        }
    }
}

impl fmt::Display for EntityPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fully_qualified())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_openwhisk_names() {
        for ok in ["a", "_", "hello", "my action", "a.b-c@d&e", "x-", "9lives"] {
            assert!(EntityName::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", " a", "a ", "-a", "a/b", "a$", "ä"] {
            assert_eq!(
                EntityName::parse(bad),
                Err(NameError::IllegalCharacters),
                "{bad:?}"
            );
        }
        let long = "a".repeat(257);
        assert_eq!(EntityName::parse(&long), Err(NameError::TooLong(257)));
        assert!(EntityName::parse(&"a".repeat(256)).is_ok());
    }

    #[test]
    fn paths_render_like_openwhisk() {
        let path = EntityPath::new(
            EntityName::parse("guest").unwrap(),
            Some(EntityName::parse("utils").unwrap()),
            EntityName::parse("echo").unwrap(),
        );
        assert_eq!(path.parent(), "guest/utils");
        assert_eq!(path.fully_qualified(), "/guest/utils/echo");
        assert_eq!(path.local(), "utils/echo");
    }
}
