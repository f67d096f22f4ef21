//! An [`Objects`] that tells an observer how many bytes go into and out of storage (for the
//! server's metrics), without this crate knowing what observes it. Bytes out are counted as
//! the reader consumes them, so a download cut short counts what was read.

use std::sync::Arc;

use futures_util::TryStreamExt;

use crate::{
    BoxFuture, Bucket, ByteRange, ByteStream, Listing, ObjectBody, ObjectError, ObjectMeta, Objects,
};

/// Called with bytes stored (`true`) or read (`false`).
pub type Observer = Arc<dyn Fn(bool, u64) + Send + Sync>;

pub struct Counted {
    inner: Arc<dyn Objects>,
    observe: Observer,
}

impl Counted {
    pub fn new(inner: Arc<dyn Objects>, observe: Observer) -> Counted {
        Counted { inner, observe }
    }
}

impl Objects for Counted {
    fn generation(&self, namespace: &str, bucket: Bucket) -> Option<u64> {
        self.inner.generation(namespace, bucket)
    }

    fn head<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>> {
        self.inner.head(namespace, bucket, key)
    }

    fn version<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ObjectError>> {
        self.inner.version(namespace, bucket, key)
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        range: Option<ByteRange>,
    ) -> BoxFuture<'a, Result<Option<ObjectBody>, ObjectError>> {
        Box::pin(async move {
            let found = self.inner.get(namespace, bucket, key, range).await?;
            Ok(found.map(|body| {
                let observe = self.observe.clone();
                let stream: ByteStream = Box::pin(
                    body.stream
                        .inspect_ok(move |chunk| observe(false, chunk.len() as u64)),
                );
                ObjectBody { stream, ..body }
            }))
        })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
        body: ByteStream,
        content_type: Option<String>,
    ) -> BoxFuture<'a, Result<ObjectMeta, ObjectError>> {
        Box::pin(async move {
            let meta = self
                .inner
                .put(namespace, bucket, key, body, content_type)
                .await?;
            (self.observe)(true, meta.size);
            Ok(meta)
        })
    }

    fn copy<'a>(
        &'a self,
        namespace: &'a str,
        from: (Bucket, &'a str),
        to: (Bucket, &'a str),
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, ObjectError>> {
        self.inner.copy(namespace, from, to)
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, ObjectError>> {
        self.inner.delete(namespace, bucket, key)
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        bucket: Bucket,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Listing, ObjectError>> {
        self.inner
            .list(namespace, bucket, prefix, start_after, limit)
    }
}
