//! The `web/` part of a project as the site will hold it: each file's key in the web bucket
//! (after `bucket.strip` and `bucket.prefixPath`), its digest and content type, and the site
//! settings `project.yml`'s `bucket:` options ask for.

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wisp_core::site::{SiteSettings, USE_CACHE};

use crate::{Project, ProjectError};

/// One file of `web/`, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFile {
    /// Its key in the web bucket, which is its path on the site.
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// SHA-256 of the content, 64 hex digits.
    pub sha256: String,
    /// From `project.yml`'s `web:` list; otherwise the server guesses from the key.
    pub content_type: Option<String>,
}

/// Every file of `web/` with its key and digest; files that `strip` removes entirely (no
/// segment left) are skipped, as Nimbella's deployer does.
pub fn web_files(project: &Project) -> Result<Vec<WebFile>, ProjectError> {
    let bucket = project.bucket.clone().unwrap_or_default();
    let strip = bucket.strip.unwrap_or(0) as usize;
    let prefix = bucket
        .prefix_path
        .as_deref()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty());
    let mut files = Vec::new();
    for relative in &project.web {
        let segments: Vec<&str> = relative.split('/').skip(strip).collect();
        if segments.is_empty() {
            continue;
        }
        let key = match prefix {
            Some(prefix) => format!("{prefix}/{}", segments.join("/")),
            None => segments.join("/"),
        };
        let path = project.root.join("web").join(relative);
        let (size, sha256) = hash_file(&path)?;
        let content_type = project
            .web_types
            .iter()
            .find(|t| t.simple_name == *relative || t.simple_name == key)
            .map(|t| t.mime_type.clone());
        files.push(WebFile {
            key,
            path,
            size,
            sha256,
            content_type,
        });
    }
    Ok(files)
}

/// The site settings the project asks for (Nimbella's `mainPageSuffix`, `notFoundPage`,
/// `useCache`, and Wisp's `spa`).
pub fn site_settings(project: &Project) -> SiteSettings {
    let bucket = project.bucket.clone().unwrap_or_default();
    let defaults = SiteSettings::default();
    SiteSettings {
        index: bucket.main_page_suffix.unwrap_or(defaults.index),
        not_found: bucket.not_found_page.unwrap_or(defaults.not_found),
        spa: bucket.spa,
        cache_control: if bucket.use_cache {
            USE_CACHE.to_string()
        } else {
            defaults.cache_control
        },
    }
}

fn hash_file(path: &std::path::Path) -> Result<(u64, String), ProjectError> {
    let mut file = std::fs::File::open(path).map_err(|e| ProjectError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| ProjectError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use crate::Variables;

    #[test]
    fn keys_follow_strip_and_prefix_and_types_follow_the_web_list() {
        let dir = TempDir::new();
        dir.file("web/index.html", "<h1>hi</h1>");
        dir.file("web/build/app.js", "console.log(1)");
        dir.file(
            "project.yml",
            "bucket:\n  prefixPath: v2\n  strip: 1\n  spa: true\n  useCache: true\nweb:\n  - simpleName: build/app.js\n    mimeType: text/plain\n",
        );
        let project = crate::read(dir.path(), &Variables::default()).unwrap();
        let files = web_files(&project).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["v2/app.js"],
            "index.html has no segment left after strip 1"
        );
        assert_eq!(files[0].size, 14);
        assert_eq!(files[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(files[0].sha256.len(), 64);
        let settings = site_settings(&project);
        assert!(settings.spa);
        assert_eq!(settings.cache_control, USE_CACHE);
        assert_eq!(settings.index, "index.html");
    }
}
