//! Multipart uploads (what `aws s3 cp`, boto3's `upload_file` and the JS SDK's `Upload` use for
//! large files): parts are staged as files under the endpoint's own folder, outside object
//! storage, and on completion streamed in order into one `Objects::put`, so the object appears
//! whole and atomically, and counts against the quota then.
//!
//! Layout: `<dir>/<upload id>/upload.json` (namespace, bucket, key, content type) and one file
//! per part, `<number>.<md5>` (the md5 is the part's ETag, as in S3). Uploads untouched for a
//! week are removed when the endpoint starts.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::{stream, StreamExt};
use md5::{Digest, Md5};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use wisp_objects::{Bucket, ByteStream};

/// S3's bounds: part numbers 1 to 10000, a part at most 5 GiB.
pub const MAX_PARTS: i32 = 10_000;
const MAX_PART_BYTES: u64 = 5 << 30;
/// An upload left this long is abandoned.
const ABANDONED: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upload {
    pub namespace: String,
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
}

impl Upload {
    pub fn bucket(&self) -> Bucket {
        if self.bucket == "web" {
            Bucket::Web
        } else {
            Bucket::Data
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// No such upload for this namespace, bucket and key.
    #[error("the upload does not exist (completed, aborted or never started)")]
    NoSuchUpload,
    #[error("{0}")]
    InvalidPart(String),
    #[error("the part is larger than 5 GiB")]
    TooLarge,
    #[error("the part's body failed: {0}")]
    Body(std::io::Error),
    #[error("staging the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    /// Uploads staged under `dir` (created if missing); abandoned ones are removed.
    pub fn open(dir: &Path) -> std::io::Result<Uploads> {
        // Owner-only, as everything under the data directory: the parts are objects' bytes.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        for entry in std::fs::read_dir(dir)?.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > ABANDONED);
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(Uploads {
            dir: dir.to_path_buf(),
        })
    }

    /// Starts an upload; its id.
    pub async fn create(&self, upload: &Upload) -> Result<String, UploadError> {
        let id = Alphanumeric.sample_string(&mut rand::rng(), 32);
        let dir = self.dir.join(&id);
        tokio::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .await?;
        let json = serde_json::to_vec(upload).map_err(std::io::Error::other)?;
        let mut file = private_file(&dir.join("upload.json")).await?;
        file.write_all(&json).await?;
        file.flush().await?;
        Ok(id)
    }

    /// The upload `id` if it is this namespace's, for this bucket and key.
    pub async fn find(
        &self,
        id: &str,
        namespace: &str,
        bucket: Bucket,
        key: &str,
    ) -> Result<Upload, UploadError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(UploadError::NoSuchUpload);
        }
        let json = match tokio::fs::read(self.dir.join(id).join("upload.json")).await {
            Ok(json) => json,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(UploadError::NoSuchUpload)
            }
            Err(e) => return Err(e.into()),
        };
        let upload: Upload = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
        if upload.namespace != namespace || upload.bucket() != bucket || upload.key != key {
            return Err(UploadError::NoSuchUpload);
        }
        Ok(upload)
    }

    /// Stages part `number` (replacing an earlier one with that number); its ETag (md5, hex).
    pub async fn put_part(
        &self,
        id: &str,
        number: i32,
        mut body: ByteStream,
    ) -> Result<String, UploadError> {
        if !(1..=MAX_PARTS).contains(&number) {
            return Err(UploadError::InvalidPart(format!(
                "part numbers are 1 to {MAX_PARTS}, not {number}"
            )));
        }
        let dir = self.dir.join(id);
        let staging = dir.join(format!("{number:05}.partial-{}", rand::random::<u32>()));
        let mut file = private_file(&staging).await?;
        let mut md5 = Md5::new();
        let mut size = 0u64;
        let written = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(UploadError::Body)?;
                size += chunk.len() as u64;
                if size > MAX_PART_BYTES {
                    return Err(UploadError::TooLarge);
                }
                md5.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&staging).await;
            return Err(e);
        }
        let etag: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
        // One file per part number: the last upload of a number is the part.
        let mut earlier = tokio::fs::read_dir(&dir).await?;
        while let Some(entry) = earlier.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{number:05}.")) && !name.contains(".partial-") {
                tokio::fs::remove_file(entry.path()).await?;
            }
        }
        tokio::fs::rename(&staging, dir.join(format!("{number:05}.{etag}"))).await?;
        Ok(etag)
    }

    /// The named parts' bytes in order, checked against their ETags; S3 wants part numbers
    /// ascending.
    pub async fn assemble(
        &self,
        id: &str,
        parts: &[(i32, String)],
    ) -> Result<ByteStream, UploadError> {
        if parts.is_empty() {
            return Err(UploadError::InvalidPart(
                "a multipart upload needs at least one part".to_string(),
            ));
        }
        let mut files = Vec::new();
        let mut previous = 0;
        for (number, etag) in parts {
            if *number <= previous {
                return Err(UploadError::InvalidPart(
                    "parts must be listed in ascending order".to_string(),
                ));
            }
            previous = *number;
            let etag = etag.trim_matches('"');
            let file = self.dir.join(id).join(format!("{number:05}.{etag}"));
            if !tokio::fs::try_exists(&file).await? {
                return Err(UploadError::InvalidPart(format!(
                    "part {number} with ETag {etag} was not uploaded"
                )));
            }
            files.push(file);
        }
        let stream = stream::iter(files)
            .then(|file| async move { tokio::fs::File::open(file).await })
            .map(|opened| match opened {
                Ok(file) => {
                    tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).left_stream()
                }
                Err(e) => stream::once(async move { Err(e) }).right_stream(),
            })
            .flatten()
            .boxed();
        Ok(stream)
    }

    /// Forgets the upload and its parts.
    pub async fn remove(&self, id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.dir.join(id)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A new file (or an emptied one) readable by its owner only.
async fn private_file(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .await
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn body(bytes: &'static [u8]) -> ByteStream {
        stream::iter(vec![Ok(Bytes::from_static(bytes))]).boxed()
    }

    #[tokio::test]
    async fn parts_are_staged_checked_and_assembled_in_order() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("uploads");
        let uploads = Uploads::open(&dir).unwrap();
        let upload = Upload {
            namespace: "ns".into(),
            bucket: "data".into(),
            key: "big".into(),
            content_type: None,
        };
        let id = uploads.create(&upload).await.unwrap();
        assert_eq!(
            uploads.find(&id, "ns", Bucket::Data, "big").await.unwrap(),
            upload
        );
        for (ns, bucket, key) in [
            ("other", Bucket::Data, "big"),
            ("ns", Bucket::Web, "big"),
            ("ns", Bucket::Data, "x"),
        ] {
            assert!(matches!(
                uploads.find(&id, ns, bucket, key).await,
                Err(UploadError::NoSuchUpload)
            ));
        }
        assert!(matches!(
            uploads.find("../x", "ns", Bucket::Data, "big").await,
            Err(UploadError::NoSuchUpload)
        ));

        let first = uploads.put_part(&id, 1, body(b"wrong")).await.unwrap();
        let first_again = uploads.put_part(&id, 1, body(b"hello ")).await.unwrap();
        assert_ne!(first, first_again);
        // The md5 of the part, as S3's part ETags are.
        assert_eq!(first_again, "f814893777bcc2295fff05f00e508da6");
        let second = uploads.put_part(&id, 2, body(b"world")).await.unwrap();
        assert!(uploads.put_part(&id, 0, body(b"x")).await.is_err());

        // The replaced part is gone; order and ETags are checked.
        assert!(uploads.assemble(&id, &[(1, first.clone())]).await.is_err());
        assert!(uploads
            .assemble(&id, &[(2, second.clone()), (1, first_again.clone())])
            .await
            .is_err());
        let stream = uploads
            .assemble(&id, &[(1, format!("\"{first_again}\"")), (2, second)])
            .await
            .unwrap();
        let bytes: Vec<u8> = stream.map(|c| c.unwrap().to_vec()).concat().await;
        assert_eq!(bytes, b"hello world");

        uploads.remove(&id).await.unwrap();
        assert!(matches!(
            uploads.find(&id, "ns", Bucket::Data, "big").await,
            Err(UploadError::NoSuchUpload)
        ));
    }
}
