//! Object storage as `wisp serve` runs it: two buckets per namespace under `--objects-dir`
//! (the local filesystem), and the secret that signs URLs to single objects.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use wisp_api::ObjectsApi;
use wisp_objects::{ObjectsConfig, StoreObjects, UrlSigner};

/// Opens the objects under `dir`; the URL signing secret is `<data dir>/objects-url.key`.
pub fn open_objects(
    dir: &Path,
    data_dir: &Path,
    quota_mb: u64,
    max_upload_mb: u64,
    public_url: &str,
) -> anyhow::Result<ObjectsApi> {
    let store = StoreObjects::local(
        dir,
        ObjectsConfig {
            quota_bytes: quota_mb << 20,
        },
    )
    .with_context(|| format!("cannot open object storage in {}", dir.display()))?;
    let signer = UrlSigner::open(&data_dir.join("objects-url.key"))?;
    Ok(ObjectsApi {
        store: Arc::new(store),
        signer: Arc::new(signer),
        public_url: public_url.to_string(),
        max_upload_bytes: max_upload_mb << 20,
    })
}
