//! The key-value store as `wisp serve` runs it: the store (embedded or a shared Redis), its
//! RESP2 endpoint, and what each activation is told about it (`__NIM_REDIS_IP`,
//! `__NIM_REDIS_PASSWORD`, the variables Nimbella's SDKs read).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use wisp_controller::ActivationEnv;
use wisp_core::{BoxFuture, EntityName};
use wisp_kv::{EmbeddedKv, KvConfig, KvStore, Passwords, RedisConfig, RedisKv, ServerConfig};

use crate::ServiceError;

/// The key-value store as activations see it: where its endpoint is, and each namespace's
/// password there (the password is the namespace's identity on that endpoint).
pub struct KvEnv {
    host: String,
    passwords: Arc<Passwords>,
}

impl ActivationEnv for KvEnv {
    fn variables<'a>(&'a self, namespace: &'a EntityName) -> BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let password = match self.passwords.known(namespace.as_str()) {
                // Every invoke after a namespace's first: no thread hand-off on the hot path.
                Some(password) => Ok(Ok(password)),
                None => {
                    // The first call for a namespace stores its password: a blocking write.
                    let passwords = self.passwords.clone();
                    let ns = namespace.to_string();
                    tokio::task::spawn_blocking(move || passwords.password_for(&ns)).await
                }
            };
            match password {
                Ok(Ok(password)) => vec![
                    ("__NIM_REDIS_IP".to_string(), self.host.clone()),
                    ("__NIM_REDIS_PASSWORD".to_string(), password),
                ],
                Ok(Err(e)) => {
                    tracing::error!(error = %e, %namespace, "no key-value password for the namespace");
                    Vec::new()
                }
                Err(e) => {
                    tracing::error!(error = %e, "key-value password lookup failed");
                    Vec::new()
                }
            }
        })
    }
}

/// Where the key-value data lives (`--kv-backend`). Not `Debug`: the URL may hold a password.
#[derive(Clone, PartialEq)]
pub enum KvBackend {
    /// In memory and in `<data>/kv/kv.db`.
    Embedded,
    /// A Redis that several servers can share: `redis://[[user]:password@]host[:port][/db]`.
    Redis(String),
}

impl std::str::FromStr for KvBackend {
    /// What the flag's parser shows: neither form.
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "embedded" => Ok(KvBackend::Embedded),
            url if url.starts_with("redis://") => Ok(KvBackend::Redis(url.to_owned())),
            // Only the scheme, if any: the rest may hold a password.
            other => Err(match other.split_once("://") {
                Some((scheme, _)) => format!(
                    "`{scheme}://` is not a key-value backend: use `embedded` or a redis:// URL"
                ),
                None => "use `embedded` or a redis:// URL".to_owned(),
            }),
        }
    }
}

/// The key-value store's RESP2 endpoint, where it listens and what activations are told.
pub struct KvEndpoint {
    pub address: SocketAddr,
    pub env: KvEnv,
}

/// Opens the store `backend` names (embedded: under `dir`; Redis: under the keys of
/// `cluster`), every client of it counted.
pub async fn open_kv(
    dir: &Path,
    backend: &KvBackend,
    cluster: &str,
    quota_bytes: usize,
    metrics: &Arc<wisp_metrics::Metrics>,
) -> Result<Arc<dyn KvStore>, ServiceError> {
    let store: Arc<dyn KvStore> = match backend {
        KvBackend::Embedded => EmbeddedKv::open(
            dir,
            KvConfig {
                quota_bytes,
                ..KvConfig::default()
            },
        )
        .map_err(|source| ServiceError::KvStore {
            dir: dir.to_path_buf(),
            source,
        })?,
        KvBackend::Redis(url) => {
            RedisKv::connect(RedisConfig::new(url, quota_bytes).for_cluster(cluster))
                .await
                .map_err(ServiceError::KvRedis)?
        }
    };
    // Every client of the store (RESP, REST, declared state, wasm) is counted.
    let counted = metrics.clone();
    Ok(Arc::new(wisp_kv::Counted::new(
        store,
        Arc::new(move |ok, failed| counted.kv_commands(ok, failed)),
    )))
}

/// Serves RESP2 over `store` on `listen`; the namespaces' passwords are kept under `dir`
/// whatever the backend. `None` (with a message) when the address cannot be had: functions
/// then run without a key-value endpoint.
pub async fn serve_kv(
    store: Arc<dyn KvStore>,
    dir: &Path,
    listen: SocketAddr,
) -> Result<Option<KvEndpoint>, ServiceError> {
    let passwords = Arc::new(
        Passwords::open(dir).map_err(|source| ServiceError::KvPasswords {
            dir: dir.to_path_buf(),
            source,
        })?,
    );
    let listener = match crate::listen::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            println!(
                "wisp: the key-value store cannot listen on {listen} ({e}); running without it (see --kv-listen)"
            );
            return Ok(None);
        }
    };
    let local = listener.local_addr().map_err(ServiceError::Listener)?;
    let served = passwords.clone();
    tokio::spawn(async move {
        if let Err(e) = wisp_kv::serve(listener, store, served, ServerConfig::default()).await {
            tracing::error!(error = %e, "the key-value endpoint stopped");
        }
    });
    let env = KvEnv {
        host: local.ip().to_string(),
        passwords,
    };
    Ok(Some(KvEndpoint {
        address: local,
        env,
    }))
}
