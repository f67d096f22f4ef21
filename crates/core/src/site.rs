//! A namespace's static site: how its web bucket is served at `<namespace>.<site domain>`.
//!
//! The settings are an object of the web bucket itself, [`SETTINGS_KEY`], so everything that
//! writes the site writes them the same way: `wisp project deploy` from `project.yml`'s
//! `bucket:` options, the S3 endpoint's `PutBucketWebsite` (Nimbella's deployer), or a user
//! with `wisp object`. Keys under [`RESERVED_PREFIX`] are never served.

use serde::{Deserialize, Serialize};

/// Where the settings object lives in the web bucket.
pub const SETTINGS_KEY: &str = ".wisp/site.json";
/// Keys of the web bucket that belong to the platform, not to the site.
pub const RESERVED_PREFIX: &str = ".wisp/";
/// What the deployer remembers of the files it uploaded (their digests, by key).
pub const MANIFEST_KEY: &str = ".wisp/deployed.json";

/// `Cache-Control` of every file unless the project opts into caching: a redeploy shows at
/// once (Nimbella's default too).
pub const NO_CACHE: &str = "no-cache";
/// `Cache-Control` when a project sets `useCache: true`.
pub const USE_CACHE: &str = "public, max-age=3600";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SiteSettings {
    /// The page a directory URL answers with (`/` → `index.html`, `/docs/` → `docs/index.html`).
    pub index: String,
    /// The page a missing file answers with, status 404; a built-in page when it is absent too.
    pub not_found: String,
    /// Single-page-app mode: a missing path without an extension answers the root index page
    /// with status 200, so client-side routes survive a reload.
    pub spa: bool,
    /// The `Cache-Control` header of every file.
    pub cache_control: String,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            index: "index.html".into(),
            not_found: "404.html".into(),
            spa: false,
            cache_control: NO_CACHE.into(),
        }
    }
}

impl SiteSettings {
    /// Settings from the stored object; a damaged object serves the defaults rather than
    /// taking the whole site down.
    pub fn parse(bytes: &[u8]) -> SiteSettings {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
}

/// What a deploy recorded about the files it uploaded: `key → {sha256, project}`, so a later
/// deploy, from any clone, uploads only what changed and prunes only its own files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebManifest {
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, DeployedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedFile {
    pub sha256: String,
    pub size: u64,
    pub project: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_their_defaults_and_junk_serves_the_defaults() {
        let partial = SiteSettings::parse(br#"{"spa": true}"#);
        assert!(partial.spa);
        assert_eq!(partial.index, "index.html");
        assert_eq!(partial.cache_control, NO_CACHE);
        assert_eq!(SiteSettings::parse(b"not json"), SiteSettings::default());
    }
}
