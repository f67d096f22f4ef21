//! The namespace state services as Wisp's processes run them: the key-value store with its RESP2
//! endpoint, object storage with its S3 endpoint and signed URLs, and what reaches them from
//! each part of the platform.
//!
//! - `wisp_kv::Keys`, the key-value store as typed calls, is what every client inside the
//!   platform uses (declared state, wasm components, the REST API's `/kv`).
//! - [`kv`] and [`objects`] open the stores and start their endpoints; each says what an
//!   activation is told about its endpoint ([`KvEnv`], [`StorageEnv`]), and
//!   [`activation_env::WithEnv`] adds all of it to each activation where it runs.
//! - [`declared_state`] is declared state's `StateBackend` over both stores, and
//!   [`guest_stores`] the wasm engine's `GuestState`.
//! - [`sites`] derives where the namespaces' static sites are reached.
//!
//! This crate knows no HTTP server types (the API crate serves `/kv` and the objects) and no
//! wasmtime (only the wasm crate's trait), and reads no configuration: the binary resolves its
//! flags and calls in here (messages still name the flag an operator would change).

pub mod activation_env;
pub mod declared_state;
pub mod guest_stores;
pub mod kv;
pub mod listen;
pub mod objects;
pub mod sites;

use std::path::PathBuf;

pub use activation_env::{Envs, WithEnv};
pub use declared_state::StateStores;
pub use guest_stores::GuestStores;
pub use kv::{KvBackend, KvEndpoint, KvEnv};
pub use objects::{ObjectStorage, ObjectsBackend, StorageEnv};

/// Why a service could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot open the key-value store in {}", dir.display())]
    KvStore {
        dir: PathBuf,
        #[source]
        source: wisp_kv::KvError,
    },
    #[error("cannot reach the key-value store's Redis (see --kv-backend)")]
    KvRedis(#[source] wisp_kv::KvError),
    #[error("cannot open the key-value passwords in {}", dir.display())]
    KvPasswords {
        dir: PathBuf,
        #[source]
        source: wisp_kv::KvError,
    },
    #[error("cannot open object storage in {}", dir.display())]
    Objects {
        dir: PathBuf,
        #[source]
        source: wisp_objects::ObjectError,
    },
    #[error("cannot use {location} for objects (see --objects-backend and the AWS_* variables)")]
    ObjectsS3 {
        location: String,
        #[source]
        source: wisp_objects::ObjectError,
    },
    /// The secret that signs URLs to single objects cannot be read or made.
    #[error(transparent)]
    UrlSigner(wisp_objects::ObjectError),
    #[error("cannot read the S3 key pairs in {}", file.display())]
    S3Credentials {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot stage S3 uploads in {}", dir.display())]
    S3Uploads {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A listener that was bound has no address.
    #[error(transparent)]
    Listener(std::io::Error),
}
