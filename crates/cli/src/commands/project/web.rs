//! The `web/` part of a deploy: the files of the namespace's site and its settings.
//!
//! What was uploaded is recorded in the web bucket itself (`wisp_core::site::MANIFEST_KEY`:
//! each key's SHA-256, size and project), so a deploy from any clone uploads only the files
//! whose digest changed or that are missing from the bucket, and `--prune` deletes only files
//! this project put there.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use futures_util::{stream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::Value;
use wisp_core::site::{DeployedFile, SiteSettings, WebManifest, MANIFEST_KEY, SETTINGS_KEY};
use wisp_project::{site_settings, web_files, Project, WebFile};
use wisp_wire::ObjectList;

use crate::client::Client;
use crate::names::encode_segment;
use crate::output::{document, Printer};

/// Uploads in flight at once: enough to hide a round trip, few enough to stay polite.
const PARALLEL_UPLOADS: usize = 8;
/// A listing page of the web bucket.
const PAGE: usize = 1000;

/// What a deploy does to the site.
pub struct WebPlan {
    pub upload: Vec<WebFile>,
    pub unchanged: usize,
    /// Keys this project uploaded before and no longer has: deleted with `--prune`.
    pub delete: Vec<String>,
    pub keep: Vec<String>,
    /// The settings to write, when they differ from the stored ones.
    pub settings: Option<SiteSettings>,
    /// The record to store once everything else is done; `None` when nothing changed.
    manifest: Option<WebManifest>,
}

/// Compares the project's `web/` with what the bucket holds and its record says.
pub async fn plan(
    project: &Project,
    namespace: &str,
    client: &Client,
    prune: bool,
) -> anyhow::Result<Option<WebPlan>> {
    let files = web_files(project)?;
    if files.is_empty() && project.bucket.is_none() {
        return Ok(None);
    }
    let site = Site { client, namespace };
    let old: WebManifest = site
        .json(MANIFEST_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let stored = site.sizes().await?;
    let mut manifest = old.clone();
    let mut upload = Vec::new();
    for file in &files {
        let recorded = old.files.get(&file.key);
        let same = recorded.is_some_and(|r| r.sha256 == file.sha256 && r.size == file.size)
            && stored.get(&file.key) == Some(&file.size);
        if !same {
            upload.push(file.clone());
        }
        manifest.files.insert(
            file.key.clone(),
            DeployedFile {
                sha256: file.sha256.clone(),
                size: file.size,
                project: project.name.clone(),
            },
        );
    }
    let current: BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let gone: Vec<String> = old
        .files
        .iter()
        .filter(|(key, f)| f.project == project.name && !current.contains(key.as_str()))
        .map(|(key, _)| key.clone())
        .collect();
    let (delete, keep) = if prune {
        (gone, Vec::new())
    } else {
        (Vec::new(), gone)
    };
    for key in &delete {
        manifest.files.remove(key);
    }
    let wanted = site_settings(project);
    let settings = match site.json(SETTINGS_KEY).await? {
        Some(value) if SiteSettings::parse(value.to_string().as_bytes()) == wanted => None,
        _ => Some(wanted),
    };
    let unchanged = files.len() - upload.len();
    Ok(Some(WebPlan {
        manifest: (manifest != old).then_some(manifest),
        upload,
        unchanged,
        delete,
        keep,
        settings,
    }))
}

/// Uploads, deletes, writes the settings and then the record; the requests sent.
pub async fn apply(
    plan: WebPlan,
    namespace: &str,
    client: &Client,
    quiet: bool,
    printer: &mut Printer,
) -> anyhow::Result<usize> {
    let site = Site { client, namespace };
    let total = plan.upload.len();
    let mut done = 0;
    let mut uploads = stream::iter(plan.upload.iter().map(|file| site.upload(file)))
        .buffer_unordered(PARALLEL_UPLOADS);
    while let Some(key) = uploads.try_next().await? {
        done += 1;
        if !quiet {
            printer.line(format!("[web {done}/{total}] uploaded {key}"))?;
        }
    }
    drop(uploads);
    for key in &plan.delete {
        site.delete(key).await?;
        if !quiet {
            printer.line(format!("[web] deleted {key}"))?;
        }
    }
    let mut requests = total + plan.delete.len();
    if let Some(settings) = &plan.settings {
        site.put_json(SETTINGS_KEY, &serde_json::to_value(settings)?)
            .await
            .context("cannot write the site's settings")?;
        requests += 1;
    }
    if let Some(manifest) = &plan.manifest {
        site.put_json(MANIFEST_KEY, &serde_json::to_value(manifest)?)
            .await
            .context("cannot record the uploaded files")?;
        requests += 1;
    }
    Ok(requests)
}

/// The namespace's web bucket through the objects API.
struct Site<'a> {
    client: &'a Client,
    namespace: &'a str,
}

impl Site<'_> {
    fn path(&self, key: &str) -> String {
        format!(
            "namespaces/{}/objects/{}",
            encode_segment(self.namespace),
            encode_segment(key)
        )
    }

    fn query() -> [(&'static str, String); 1] {
        [("bucket", "web".to_string())]
    }

    /// A JSON object of the bucket, `None` when absent.
    async fn json(&self, key: &str) -> anyhow::Result<Option<Value>> {
        let reply = self
            .client
            .send(Method::GET, &self.path(key), &Self::query(), None)
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        Ok(Some(reply.into_result().with_context(|| {
            format!("cannot read {key} from the web bucket")
        })?))
    }

    async fn put_json(&self, key: &str, value: &Value) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(value)?;
        let length = bytes.len() as u64;
        self.client
            .upload(
                &self.path(key),
                &Self::query(),
                bytes,
                length,
                Some("application/json"),
            )
            .await?;
        Ok(())
    }

    /// Every key of the bucket with its size.
    async fn sizes(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut sizes = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("bucket", "web".to_string()), ("limit", PAGE.to_string())];
            if let Some(after) = &after {
                query.push(("after", after.clone()));
            }
            let page = self
                .client
                .get(
                    &format!("namespaces/{}/objects", encode_segment(self.namespace)),
                    &query,
                )
                .await
                .context("cannot list the web bucket to plan the deploy")?;
            let page = document::<ObjectList>(&page);
            after = page.objects.last().map(|o| o.key.clone());
            sizes.extend(page.objects.into_iter().map(|o| (o.key, o.size)));
            if !page.truncated || after.is_none() {
                return Ok(sizes);
            }
        }
    }

    async fn upload(&self, file: &WebFile) -> anyhow::Result<String> {
        let opened = tokio::fs::File::open(&file.path)
            .await
            .with_context(|| format!("cannot open {}", file.path.display()))?;
        self.client
            .upload(
                &self.path(&file.key),
                &Self::query(),
                opened,
                file.size,
                file.content_type.as_deref(),
            )
            .await
            .with_context(|| format!("cannot upload {} as {}", file.path.display(), file.key))?;
        Ok(file.key.clone())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let reply = self
            .client
            .send(Method::DELETE, &self.path(key), &Self::query(), None)
            .await?;
        if reply.status != 404 {
            reply
                .into_result()
                .with_context(|| format!("cannot delete {key} from the web bucket"))?;
        }
        Ok(())
    }
}

/// Where the namespace's site is: on its own host name when the API host is loopback or a
/// name (`http://guest.localhost:3233/`), and always at the path form.
pub fn site_urls(apihost: &str, namespace: &str) -> (Option<String>, String) {
    let apihost = apihost.trim_end_matches('/');
    let path_form = format!("{apihost}/sites/{}/", encode_segment(namespace));
    let (scheme, authority) = apihost.split_once("://").unwrap_or(("http", apihost));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, format!(":{port}")),
        _ => (authority, String::new()),
    };
    let is_label = namespace
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let site_host = match host {
        "127.0.0.1" | "[::1]" | "localhost" => Some("localhost".to_string()),
        h if h.parse::<std::net::IpAddr>().is_ok() || h.starts_with('[') => None,
        h => Some(h.to_string()),
    };
    let own = site_host
        .filter(|_| is_label && !namespace.is_empty())
        .map(|h| format!("{scheme}://{namespace}.{h}{port}/"));
    (own, path_form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_on_their_own_host_where_names_allow() {
        assert_eq!(
            site_urls("http://127.0.0.1:3233", "guest"),
            (
                Some("http://guest.localhost:3233/".into()),
                "http://127.0.0.1:3233/sites/guest/".into()
            )
        );
        assert_eq!(
            site_urls("https://wisp.example.com", "team-a").0.as_deref(),
            Some("https://team-a.wisp.example.com/")
        );
        assert_eq!(site_urls("http://10.0.0.5:3233", "guest").0, None);
        assert_eq!(site_urls("http://127.0.0.1:3233", "Big_Ns").0, None);
    }
}
