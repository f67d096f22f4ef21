//! The S3 operations, over [`Objects`]. s3s has checked the signature (header or presigned
//! URL) before any of these run; here the access key id names the namespace, and a bucket
//! that is not one of that namespace's two is AccessDenied.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, Bucket as S3Bucket,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CopyObjectResult, CopySource, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    ETag, Error as S3ObjectError, GetObjectInput, GetObjectOutput, HeadBucketInput,
    HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListBucketsInput, ListBucketsOutput,
    ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output,
    PutBucketWebsiteInput, PutBucketWebsiteOutput, PutObjectInput, PutObjectOutput, Range,
    StreamingBlob, Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use wisp_objects::{Bucket, ByteRange, Objects};

use crate::buckets::BucketNames;
use crate::convert::{
    body_of, common_prefixes, etag, object, object_error, timestamp, upload_error, Encoding,
    SyncStream,
};
use crate::credentials::S3Credentials;
use crate::listing;
use crate::multipart::{Upload, Uploads};

/// S3's page size, and the most a listing answers at once.
const MAX_KEYS: usize = 1000;

pub struct WispS3 {
    pub(crate) objects: Arc<dyn Objects>,
    pub(crate) credentials: Arc<S3Credentials>,
    /// The API host's first label, part of every bucket name.
    pub(crate) label: String,
    pub(crate) uploads: Uploads,
}

impl WispS3 {
    /// The namespace the request's access key id belongs to.
    fn namespace<T>(&self, req: &S3Request<T>) -> S3Result<String> {
        let credentials = req
            .credentials
            .as_ref()
            .ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))?;
        self.credentials
            .lookup(&credentials.access_key)
            .map(|(namespace, _)| namespace)
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
    }

    /// The caller's namespace and which of its buckets `bucket` is.
    fn target<T>(&self, req: &S3Request<T>, bucket: &str) -> S3Result<(String, Bucket)> {
        let namespace = self.namespace(req)?;
        let which = BucketNames::of(&namespace, &self.label)
            .bucket(bucket)
            .ok_or_else(|| {
                s3_error!(
                    AccessDenied,
                    "The bucket '{bucket}' does not belong to this key's namespace"
                )
            })?;
        Ok((namespace, which))
    }

    async fn page(
        &self,
        namespace: &str,
        bucket: Bucket,
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<listing::Page> {
        let max_keys = max_keys.map_or(MAX_KEYS, |n| (n.max(0) as usize).min(MAX_KEYS));
        // Every key after the marker: a common prefix may stand for any number of them. The
        // local backend walks the folder in any case.
        let all = self
            .objects
            .list(namespace, bucket, prefix, marker, usize::MAX)
            .await
            .map_err(object_error)?;
        Ok(listing::page(
            all.objects,
            prefix,
            delimiter,
            marker,
            max_keys,
        ))
    }
}

#[async_trait::async_trait]
impl S3 for WispS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let namespace = self.namespace(&req)?;
        let names = BucketNames::of(&namespace, &self.label);
        let buckets = [names.web, names.data]
            .into_iter()
            .map(|name| S3Bucket {
                name: Some(name),
                creation_date: Some(Timestamp::from(UNIX_EPOCH)),
                ..S3Bucket::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            ..ListBucketsOutput::default()
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.target(&req, &req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    /// The web bucket's index and error documents become its site's settings (what
    /// Nimbella's deployer sets on every web deploy); on the data bucket, which is never
    /// served, it is accepted and changes nothing.
    async fn put_bucket_website(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        if bucket == Bucket::Web {
            let config = &req.input.website_configuration;
            crate::website::update(
                self.objects.as_ref(),
                &namespace,
                config.index_document.as_ref().map(|d| d.suffix.clone()),
                config.error_document.as_ref().map(|d| d.key.clone()),
            )
            .await
            .map_err(object_error)?;
        }
        Ok(S3Response::new(PutBucketWebsiteOutput::default()))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let meta = self
            .objects
            .head(&namespace, bucket, &req.input.key)
            .await
            .map_err(object_error)?
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(meta.size as i64),
            content_type: meta.content_type.clone(),
            e_tag: Some(etag(&meta)),
            last_modified: Some(timestamp(&meta)),
            accept_ranges: Some("bytes".to_string()),
            ..HeadObjectOutput::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let range = req.input.range.map(|range| match range {
            Range::Int {
                first,
                last: Some(last),
            } => ByteRange::Bounded(first..last.saturating_add(1)),
            Range::Int { first, last: None } => ByteRange::From(first),
            Range::Suffix { length } => ByteRange::Suffix(length),
        });
        let partial = range.is_some();
        let found = self
            .objects
            .get(&namespace, bucket, &req.input.key, range)
            .await
            .map_err(object_error)?
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        let meta = &found.meta;
        let content_range = partial.then(|| {
            format!(
                "bytes {}-{}/{}",
                found.range.start,
                found.range.end - 1,
                meta.size
            )
        });
        let output = GetObjectOutput {
            content_length: Some((found.range.end - found.range.start) as i64),
            content_range,
            content_type: meta.content_type.clone(),
            e_tag: Some(etag(meta)),
            last_modified: Some(timestamp(meta)),
            accept_ranges: Some("bytes".to_string()),
            body: Some(StreamingBlob::wrap(SyncStream::new(found.stream))),
            ..GetObjectOutput::default()
        };
        Ok(S3Response::new(output))
    }

    /// `x-amz-acl` (the SDK's `public-read` on web writes) and user metadata are accepted
    /// and not kept: the web bucket is public by what it is, the data bucket private.
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = req.input;
        let meta = self
            .objects
            .put(
                &namespace,
                bucket,
                &input.key,
                body_of(input.body),
                input.content_type,
            )
            .await
            .map_err(object_error)?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&meta)),
            size: Some(meta.size as i64),
            ..PutObjectOutput::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (namespace, to) = self.target(&req, &req.input.bucket)?;
        let CopySource::Bucket {
            bucket: source_bucket,
            key: source_key,
            ..
        } = &req.input.copy_source
        else {
            return Err(s3_error!(NotImplemented, "Copying from an access point"));
        };
        let (_, from) = self.target(&req, source_bucket)?;
        let meta = self
            .objects
            .copy(&namespace, (from, source_key), (to, &req.input.key))
            .await
            .map_err(object_error)?
            .ok_or_else(|| s3_error!(NoSuchKey))?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&meta)),
                last_modified: Some(timestamp(&meta)),
                ..CopyObjectResult::default()
            }),
            ..CopyObjectOutput::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = req.input;
        wisp_objects::validate_key(&input.key).map_err(object_error)?;
        let upload = Upload {
            namespace,
            bucket: bucket.as_str().to_string(),
            key: input.key.clone(),
            content_type: input.content_type,
        };
        let id = self.uploads.create(&upload).await.map_err(upload_error)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = req.input;
        self.uploads
            .find(&input.upload_id, &namespace, bucket, &input.key)
            .await
            .map_err(upload_error)?;
        let etag = self
            .uploads
            .put_part(&input.upload_id, input.part_number, body_of(input.body))
            .await
            .map_err(upload_error)?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..UploadPartOutput::default()
        }))
    }

    /// The parts, in order, become one `Objects::put`: the object appears whole or not at all.
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = req.input;
        let upload = self
            .uploads
            .find(&input.upload_id, &namespace, bucket, &input.key)
            .await
            .map_err(upload_error)?;
        let parts: Vec<(i32, String)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|part| {
                let etag = part.e_tag.map(ETag::into_value).unwrap_or_default();
                (part.part_number.unwrap_or(0), etag)
            })
            .collect();
        let body = self
            .uploads
            .assemble(&input.upload_id, &parts)
            .await
            .map_err(upload_error)?;
        let meta = self
            .objects
            .put(&namespace, bucket, &input.key, body, upload.content_type)
            .await
            .map_err(object_error)?;
        if let Err(e) = self.uploads.remove(&input.upload_id).await {
            tracing::warn!(error = %e, "cannot remove a completed upload's parts");
        }
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(etag(&meta)),
            ..CompleteMultipartUploadOutput::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = &req.input;
        self.uploads
            .find(&input.upload_id, &namespace, bucket, &input.key)
            .await
            .map_err(upload_error)?;
        self.uploads
            .remove(&input.upload_id)
            .await
            .map_err(|e| upload_error(e.into()))?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    /// Deleting an absent key succeeds, as in S3.
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        self.objects
            .delete(&namespace, bucket, &req.input.key)
            .await
            .map_err(object_error)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in &req.input.delete.objects {
            match self.objects.delete(&namespace, bucket, &object.key).await {
                Ok(_) => deleted.push(DeletedObject {
                    key: Some(object.key.clone()),
                    ..DeletedObject::default()
                }),
                Err(e) => {
                    let error = object_error(e);
                    errors.push(S3ObjectError {
                        key: Some(object.key.clone()),
                        code: Some(error.code().as_str().to_string()),
                        message: error.message().map(str::to_string),
                        ..S3ObjectError::default()
                    });
                }
            }
        }
        let quiet = req.input.delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            errors: Some(errors),
            ..DeleteObjectsOutput::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = &req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        // The continuation token is the last key or common prefix of the previous page.
        let marker = input
            .continuation_token
            .as_deref()
            .or(input.start_after.as_deref())
            .filter(|m| !m.is_empty());
        let page = self
            .page(
                &namespace,
                bucket,
                &prefix,
                input.delimiter.as_deref(),
                marker,
                input.max_keys,
            )
            .await?;
        let key_count = (page.objects.len() + page.common_prefixes.len()) as i32;
        let encode = Encoding::of(input.encoding_type.as_ref());
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket.clone()),
            prefix: Some(encode.text(prefix)),
            delimiter: input.delimiter.clone().map(|d| encode.text(d)),
            max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS as i32)),
            key_count: Some(key_count),
            continuation_token: input.continuation_token.clone(),
            start_after: input.start_after.clone().map(|a| encode.text(a)),
            is_truncated: Some(page.truncated),
            // Opaque to the client, so never encoded.
            next_continuation_token: page.next_marker,
            contents: Some(page.objects.iter().map(|m| object(m, encode)).collect()),
            common_prefixes: Some(common_prefixes(page.common_prefixes, encode)),
            encoding_type: input.encoding_type.clone(),
            ..ListObjectsV2Output::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let (namespace, bucket) = self.target(&req, &req.input.bucket)?;
        let input = &req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let marker = input.marker.as_deref().filter(|m| !m.is_empty());
        let page = self
            .page(
                &namespace,
                bucket,
                &prefix,
                input.delimiter.as_deref(),
                marker,
                input.max_keys,
            )
            .await?;
        let encode = Encoding::of(input.encoding_type.as_ref());
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(encode.text(prefix)),
            delimiter: input.delimiter.clone().map(|d| encode.text(d)),
            marker: input.marker.clone().map(|m| encode.text(m)),
            max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS as i32)),
            is_truncated: Some(page.truncated),
            next_marker: page.next_marker.map(|m| encode.text(m)),
            contents: Some(page.objects.iter().map(|m| object(m, encode)).collect()),
            common_prefixes: Some(common_prefixes(page.common_prefixes, encode)),
            encoding_type: input.encoding_type.clone(),
            ..ListObjectsOutput::default()
        }))
    }
}
