//! The S3-compatible endpoint functions reach object storage through, so the AWS SDKs and
//! `@nimbella/sdk`'s `storageClient()` work unchanged.
//!
//! s3s does the S3 protocol: routing, XML, SigV4 (header-signed and presigned URLs, chunked
//! uploads). This crate gives it the operations over [`wisp_objects::Objects`]
//! (`service.rs`), each namespace's key pair (`credentials.rs`), Nimbella's bucket names
//! (`buckets.rs`) and a listener (`serve`). Path-style addressing only: the bucket is the first
//! path segment.
//!
//! Besides `wisp-api`, the only crate that serves HTTP; it knows no controller and no
//! entities: an access key id is all the identity it needs.

mod buckets;
mod convert;
mod credentials;
mod listing;
mod multipart;
mod service;
mod timeout;
mod website;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{s3_error, S3Result};
use tokio::net::TcpListener;
use wisp_objects::Objects;

pub use buckets::{api_label, BucketNames};
pub use credentials::{KeyPair, S3Credentials};

/// The region the endpoint claims; clients need one to sign with, any value works.
pub const REGION: &str = "us-east-1";

/// The S3 service over `objects`: requests must be signed with a namespace's key pair, and a
/// key reaches only its namespace's buckets (named with `label`, see [`BucketNames`]).
pub fn service(
    objects: Arc<dyn Objects>,
    credentials: Arc<S3Credentials>,
    label: &str,
    uploads_dir: &Path,
) -> std::io::Result<S3Service> {
    let mut builder = S3ServiceBuilder::new(service::WispS3 {
        objects,
        credentials: credentials.clone(),
        label: label.to_string(),
        uploads: multipart::Uploads::open(uploads_dir)?,
    });
    builder.set_auth(Keys(credentials));
    // Namespace names may hold characters AWS bucket names may not (`_`, capitals); the
    // buckets that exist are exactly the namespaces' own, checked in each operation.
    builder.set_validation(AnyBucketName);
    Ok(builder.build())
}

/// Serves `service` on `listener` until the task is dropped: one task per connection.
/// `read_timeout` bounds the wait for a request's headers (and for the next request on a
/// kept-alive connection) and for each part of its body; past it the connection is closed,
/// so a client that stops sending holds nothing for long.
pub async fn serve(
    listener: TcpListener,
    service: S3Service,
    read_timeout: Duration,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let request = request.map(|body| {
                s3s::Body::http_body_unsync(timeout::ReadTimeout::new(read_timeout, body))
            });
            let service = service.clone();
            async move { service.call(request).await }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "S3 connection ended");
            }
        });
    }
}

/// The signing secret of an access key id.
struct Keys(Arc<S3Credentials>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.lookup(access_key) {
            Some((_, secret)) => Ok(SecretKey::from(secret)),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

struct AnyBucketName;

impl s3s::validation::NameValidation for AnyBucketName {
    fn validate_bucket_name(&self, name: &str) -> bool {
        !name.is_empty() && !name.contains('/')
    }
}
