//! What only the S3 backend has to do: be one store for every process of a cluster, keep
//! clusters under different prefixes apart, and stream objects larger than a part.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use wisp_objects::{Bucket, ObjectError, Objects, ObjectsConfig, S3Location, StoreObjects};

use crate::support::s3::{env, TestBucket};
use crate::support::{body, read};

#[tokio::test]
async fn two_servers_on_one_bucket_see_each_others_objects_and_share_the_quota() {
    let bucket = TestBucket::create().await;
    let config = ObjectsConfig { quota_bytes: 10 };
    let (a, b) = (bucket.open("", config.clone()), bucket.open("", config));
    a.put(
        "ns",
        Bucket::Data,
        "k",
        body(&[b"123456"]),
        Some("text/x-a".into()),
    )
    .await
    .unwrap();
    // `b` sees `a`'s object, with its type, and counts its bytes against the namespace.
    let seen = b.head("ns", Bucket::Data, "k").await.unwrap().unwrap();
    assert_eq!(seen.content_type.as_deref(), Some("text/x-a"));
    assert_eq!(read(&b, "ns", "k", None).await, b"123456");
    let err = b
        .put("ns", Bucket::Web, "w", body(&[b"12345"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Quota { .. }), "{err}");
    // `b` deletes it; `a`, which saw it written, has the room again.
    assert!(b.delete("ns", Bucket::Data, "k").await.unwrap());
    a.put("ns", Bucket::Web, "w", body(&[b"0123456789"]), None)
        .await
        .unwrap();
    assert!(a.head("ns", Bucket::Data, "k").await.unwrap().is_none());
}

#[tokio::test]
async fn clusters_under_different_prefixes_never_meet() {
    let bucket = TestBucket::create().await;
    let one = bucket.open("clusters/one", ObjectsConfig::default());
    let two = bucket.open("clusters/two", ObjectsConfig::default());
    one.put("ns", Bucket::Data, "k", body(&[b"one"]), None)
        .await
        .unwrap();
    two.put("ns", Bucket::Data, "k", body(&[b"two"]), None)
        .await
        .unwrap();
    assert_eq!(read(&one, "ns", "k", None).await, b"one");
    assert_eq!(read(&two, "ns", "k", None).await, b"two");
    assert!(two.delete("ns", Bucket::Data, "k").await.unwrap());
    assert_eq!(read(&one, "ns", "k", None).await, b"one");
    let listed = two.list("ns", Bucket::Data, "", None, 10).await.unwrap();
    assert!(listed.objects.is_empty());
}

#[tokio::test]
async fn objects_larger_than_a_part_stream_up_in_parts_and_keep_their_type() {
    let bucket = TestBucket::create().await;
    let o = bucket.open("", ObjectsConfig::default());
    // 11 MiB in 64 KiB chunks: three parts (S3's smallest is 5 MiB), never held whole.
    let big: Vec<u8> = (0..11usize << 20).map(|i| (i * 31 % 251) as u8).collect();
    let chunks: Vec<&[u8]> = big.chunks(64 << 10).collect();
    let meta = o
        .put(
            "ns",
            Bucket::Data,
            "big.bin",
            body(&chunks),
            Some("application/x-big".into()),
        )
        .await
        .unwrap();
    assert_eq!(meta.size, big.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("application/x-big"));
    assert!(
        read(&o, "ns", "big.bin", None).await == big,
        "the bytes came back"
    );

    // A body failing after the first part leaves the old object, and lists nothing new.
    let part: Vec<std::io::Result<Bytes>> = (0..7)
        .map(|_| Ok(Bytes::from(vec![7u8; 1 << 20])))
        .chain([Err(std::io::Error::other("client went away"))])
        .collect();
    let err = o
        .put(
            "ns",
            Bucket::Data,
            "big.bin",
            stream::iter(part).boxed(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Body(_)), "{err}");
    let head = o
        .head("ns", Bucket::Data, "big.bin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.etag, meta.etag);
    let listed = o.list("ns", Bucket::Data, "", None, 10).await.unwrap();
    assert_eq!(listed.objects.len(), 1);
}

#[tokio::test]
async fn a_missing_bucket_is_reported_before_use() {
    let bucket = TestBucket::create().await;
    let o = bucket.open("", ObjectsConfig::default());
    o.reachable().await.unwrap();
    let missing: S3Location = format!("s3://{}-missing", bucket.name).parse().unwrap();
    let missing = StoreObjects::s3(&missing, env(), ObjectsConfig::default()).unwrap();
    assert!(missing.reachable().await.is_err());
}
