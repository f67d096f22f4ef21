//! Semantic versions of entities: new entities start at 0.0.1, each update bumps the patch.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SemVer {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl SemVer {
    pub const INITIAL: SemVer = SemVer {
        major: 0,
        minor: 0,
        patch: 1,
    };

    pub fn parse(raw: &str) -> Option<SemVer> {
        let mut parts = raw.split('.').map(|p| p.parse::<u32>().ok());
        let v = SemVer {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }

    pub fn bump_patch(self) -> SemVer {
        SemVer {
            patch: self.patch + 1,
            ..self
        }
    }
}

impl TryFrom<String> for SemVer {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SemVer::parse(&value).ok_or_else(|| format!("invalid version '{value}'"))
    }
}

impl From<SemVer> for String {
    fn from(v: SemVer) -> String {
        v.to_string()
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bumps() {
        let v = SemVer::parse("0.0.9").unwrap();
        assert_eq!(v.bump_patch().to_string(), "0.0.10");
        assert!(SemVer::parse("1.2").is_none());
        assert!(SemVer::parse("1.2.3.4").is_none());
        assert!(SemVer::parse("a.b.c").is_none());
    }
}
