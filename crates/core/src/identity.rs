//! Who is calling: the identity behind an API key.

use crate::limits::NamespaceLimits;
use crate::names::EntityName;

/// The identity a `uuid:key` pair authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Recorded as `subject` in activation records.
    pub subject: String,
    /// The caller's namespace; `_` in a URL means this one.
    pub namespace: EntityName,
    pub uuid: String,
    /// The caller's `uuid:key`, handed to actions that ask for it (`provide-api-key`).
    pub api_key: String,
    /// The namespace's throttle overrides, read with the key.
    pub limits: NamespaceLimits,
}
