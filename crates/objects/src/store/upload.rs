//! A put's bytes on their way into the store: gathered up to one part and sent in one put if
//! the body ends there, else a multipart upload with a part or two in memory at a time, stopped
//! as soon as the namespace's quota would be crossed.

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{
    Attributes, MultipartUpload, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    WriteMultipart,
};

use super::layout::object_path;
use super::{storage, StoreObjects};
use crate::{Bucket, ByteStream, ObjectError};

/// Parts of an upload held in memory at once: part size × (in flight + the one filling).
const CHUNKS_IN_FLIGHT: usize = 2;

impl StoreObjects {
    /// Streams `body` into place: gathered up to one part and sent in one put if it ends
    /// there, else as a multipart upload with a part or two in memory at a time.
    pub(super) async fn write(
        &self,
        namespace: &str,
        bucket: Bucket,
        key: &str,
        mut body: ByteStream,
        attributes: Attributes,
    ) -> Result<(), ObjectError> {
        let path = object_path(namespace, bucket, key);
        let old = self.raw_head(&path).await?.map_or(0, |m| m.size);
        let used = self.usage(namespace).await?;
        let mut upload = Upload {
            part_bytes: self.backend.part_bytes(),
            gathered: Vec::new(),
            gathered_bytes: 0,
            writer: None,
            written: 0,
        };
        while let Some(chunk) = body.next().await {
            let sent = match chunk {
                Err(e) => Err(ObjectError::Body(e)),
                Ok(chunk) => {
                    upload.written += chunk.len() as u64;
                    if self.over_quota(used, old, upload.written) {
                        Err(self.quota_error(namespace))
                    } else {
                        let target = (namespace, bucket, key);
                        self.send(target, &mut upload, chunk, &attributes).await
                    }
                }
            };
            if let Err(failure) = sent {
                // The upload goes; the old object was never touched.
                if let Some(writer) = upload.writer {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(error = %e, key, "cannot remove an aborted upload");
                    }
                }
                return Err(failure);
            }
        }
        let finished = match upload.writer {
            Some(writer) => writer.finish().await.map(drop),
            None => {
                let payload = PutPayload::from_iter(upload.gathered);
                let options = PutOptions {
                    attributes,
                    ..PutOptions::default()
                };
                self.store.put_opts(&path, payload, options).await.map(drop)
            }
        };
        if let Err(e) = finished {
            return Err(self.write_failed(namespace, bucket, key, e).await);
        }
        self.account(namespace, old, upload.written);
        Ok(())
    }

    /// One chunk of a body on its way: gathered while it may still be one put, else written
    /// to the multipart upload (started when the gathered bytes pass one part).
    async fn send(
        &self,
        (namespace, bucket, key): (&str, Bucket, &str),
        upload: &mut Upload,
        chunk: Bytes,
        attributes: &Attributes,
    ) -> Result<(), ObjectError> {
        if let Some(writer) = &mut upload.writer {
            writer
                .wait_for_capacity(CHUNKS_IN_FLIGHT)
                .await
                .map_err(storage)?;
            writer.put(chunk);
            return Ok(());
        }
        upload.gathered_bytes += chunk.len();
        upload.gathered.push(chunk);
        if upload.gathered_bytes <= upload.part_bytes {
            return Ok(());
        }
        let options = PutMultipartOptions {
            attributes: attributes.clone(),
            ..PutMultipartOptions::default()
        };
        let path = object_path(namespace, bucket, key);
        let started: Box<dyn MultipartUpload> =
            match self.store.put_multipart_opts(&path, options).await {
                Ok(started) => started,
                Err(e) => return Err(self.write_failed(namespace, bucket, key, e).await),
            };
        let mut writer = WriteMultipart::new_with_chunk_size(started, upload.part_bytes);
        for chunk in upload.gathered.drain(..) {
            writer.put(chunk);
        }
        upload.writer = Some(writer);
        Ok(())
    }
}

/// A put's progress: the bytes gathered while it may still be a single put, then the multipart
/// upload they went to.
struct Upload {
    part_bytes: usize,
    gathered: Vec<Bytes>,
    gathered_bytes: usize,
    writer: Option<WriteMultipart>,
    /// Bytes of the body so far, for the quota.
    written: u64,
}
