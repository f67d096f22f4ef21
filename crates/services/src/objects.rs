//! Object storage as `wisp serve` runs it: two buckets per namespace under a directory (the
//! local filesystem) or in an S3 bucket the cluster shares, the secret that signs URLs to
//! single objects, and the S3-compatible endpoint with what each activation is told about it
//! (`__NIM_STORAGE_KEY`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use wisp_controller::ActivationEnv;
use wisp_core::{BoxFuture, EntityName};
use wisp_objects::{Objects, ObjectsConfig, S3Location, StoreObjects, UrlSigner};
use wisp_s3::{BucketNames, KeyPair, S3Credentials};

use crate::ServiceError;

/// The namespaces' objects, and the signer of URLs that reach one of them without
/// credentials.
pub struct ObjectStorage {
    pub store: Arc<dyn Objects>,
    pub signer: Arc<UrlSigner>,
}

/// Where the namespaces' objects live (`--objects-backend`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectsBackend {
    /// Files under `--objects-dir`.
    Local,
    /// An S3 bucket, under a prefix of its own, that the servers of a cluster share.
    S3(S3Location),
}

impl std::str::FromStr for ObjectsBackend {
    /// What the flag's parser shows: never the value, which may be a mistyped secret.
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(ObjectsBackend::Local),
            url if url.starts_with("s3://") => url.parse().map(ObjectsBackend::S3),
            _ => Err("use `local` or s3://BUCKET[/prefix]".to_owned()),
        }
    }
}

/// Opens the objects (`backend`: under `dir`, or in S3 as the `AWS_*` variables among `env`
/// say, checked to answer); the URL signing secret is `signing_key` when given (the servers
/// of a cluster share one), else `<data dir>/objects-url.key`.
pub async fn open_objects(
    backend: &ObjectsBackend,
    dir: &Path,
    env: impl IntoIterator<Item = (String, String)>,
    data_dir: &Path,
    signing_key: Option<&[u8]>,
    quota_bytes: u64,
    metrics: &Arc<wisp_metrics::Metrics>,
) -> Result<ObjectStorage, ServiceError> {
    let config = ObjectsConfig { quota_bytes };
    let store = match backend {
        ObjectsBackend::Local => {
            StoreObjects::local(dir, config).map_err(|source| ServiceError::Objects {
                dir: dir.to_path_buf(),
                source,
            })?
        }
        ObjectsBackend::S3(location) => {
            let failed = |source| ServiceError::ObjectsS3 {
                location: location.to_string(),
                source,
            };
            let store = StoreObjects::s3(location, env, config).map_err(failed)?;
            store.reachable().await.map_err(failed)?;
            store
        }
    };
    let signer = match signing_key {
        Some(secret) => UrlSigner::with_secret(secret),
        None => {
            UrlSigner::open(&data_dir.join("objects-url.key")).map_err(ServiceError::UrlSigner)?
        }
    };
    // Every reader and writer (API, S3, sites, declared files, wasm) is counted.
    let counted = metrics.clone();
    let store = wisp_objects::Counted::new(
        Arc::new(store),
        Arc::new(move |stored, bytes| counted.object_bytes(stored, bytes)),
    );
    Ok(ObjectStorage {
        store: Arc::new(store),
        signer: Arc::new(signer),
    })
}

/// The S3 endpoint as activations see it: where it is, the bucket names' label, and each
/// namespace's key pair (made on its first activation, kept in `<data dir>/s3-credentials.json`).
pub struct StorageEnv {
    endpoint: String,
    label: String,
    credentials: Arc<S3Credentials>,
    api_host: String,
    /// Where sites are, `{namespace}` standing for the namespace ([`crate::sites`]).
    site_pattern: String,
}

impl StorageEnv {
    fn storage_key(&self, namespace: &str, pair: KeyPair) -> String {
        let buckets = BucketNames::of(namespace, &self.label);
        // The shape `@nimbella/storage-s3` passes to the AWS SDK's S3Client (reference §3.3).
        json!({
            "provider": "@nimbella/storage-s3",
            "endpoint": self.endpoint,
            "region": wisp_s3::REGION,
            "forcePathStyle": true,
            "credentials": pair,
            "buckets": {"web": buckets.web, "data": buckets.data},
            // Where the web bucket's files are seen: the namespace's site, as Nimbella's
            // `weburl` was (the deployer reports it; the SDK's `getURL()` returns it).
            // Without the final `/`, as Nimbella's was: tools append `/<key>`.
            "weburl": crate::sites::site_url(&self.site_pattern, &self.api_host, namespace)
                .trim_end_matches('/'),
        })
        .to_string()
    }
}

impl ActivationEnv for StorageEnv {
    fn variables<'a>(&'a self, namespace: &'a EntityName) -> BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let pair = match self.credentials.known(namespace.as_str()) {
                Some(pair) => Ok(Ok(pair)),
                None => {
                    // A namespace's first activation stores its pair: a blocking write.
                    let credentials = self.credentials.clone();
                    let ns = namespace.to_string();
                    tokio::task::spawn_blocking(move || credentials.pair_for(&ns)).await
                }
            };
            match pair {
                Ok(Ok(pair)) => vec![(
                    "__NIM_STORAGE_KEY".to_string(),
                    self.storage_key(namespace.as_str(), pair),
                )],
                Ok(Err(e)) => {
                    tracing::error!(error = %e, %namespace, "no S3 key pair for the namespace");
                    Vec::new()
                }
                Err(e) => {
                    tracing::error!(error = %e, "S3 key pair lookup failed");
                    Vec::new()
                }
            }
        })
    }
}

/// Serves S3 on `listen` over `objects`; bucket names take the first label of `api_host`.
/// `None` (with a message) when the address cannot be had: functions then run without
/// `__NIM_STORAGE_KEY`, the REST API keeps the objects reachable.
pub async fn start_s3(
    objects: Arc<dyn Objects>,
    data_dir: &Path,
    listen: SocketAddr,
    api_host: &str,
    site_pattern: &str,
    read_timeout: std::time::Duration,
) -> Result<Option<(SocketAddr, StorageEnv)>, ServiceError> {
    let file = data_dir.join("s3-credentials.json");
    let credentials = Arc::new(
        S3Credentials::open(&file)
            .map_err(|source| ServiceError::S3Credentials { file, source })?,
    );
    let listener = match crate::listen::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            println!(
                "wisp: the S3 endpoint cannot listen on {listen} ({e}); running without it (see --s3-listen)"
            );
            return Ok(None);
        }
    };
    let local = listener.local_addr().map_err(ServiceError::Listener)?;
    let label = wisp_s3::api_label(api_host);
    let uploads = data_dir.join("s3-uploads");
    let service =
        wisp_s3::service(objects, credentials.clone(), &label, &uploads).map_err(|source| {
            ServiceError::S3Uploads {
                dir: uploads,
                source,
            }
        })?;
    tokio::spawn(async move {
        if let Err(e) = wisp_s3::serve(listener, service, read_timeout).await {
            tracing::error!(error = %e, "the S3 endpoint stopped");
        }
    });
    let env = StorageEnv {
        endpoint: format!("http://{local}"),
        label,
        credentials,
        api_host: api_host.to_string(),
        site_pattern: site_pattern.to_string(),
    };
    Ok(Some((local, env)))
}
