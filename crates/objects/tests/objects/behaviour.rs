//! What a user sees of the store, whichever backend keeps the objects: puts, gets, ranges,
//! listings, copies, deletes, the quota, and namespaces kept apart.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use wisp_objects::{Bucket, ByteRange, ObjectError, Objects, ObjectsConfig, StoreObjects};

use crate::support::{body, read, Fixture};

on_every_backend!(
    put_get_head_list_delete,
    ranges,
    replacing_is_atomic_and_changes_the_etag,
    namespaces_and_buckets_are_apart,
    odd_characters_round_trip,
    a_key_and_a_folder_of_the_same_name_conflict_on_a_filesystem,
    copies_keep_the_type_and_count_against_the_quota,
    readers_racing_writers_see_whole_versions_only,
    the_version_alone_is_the_heads_etag_and_follows_replaces,
    every_change_moves_the_buckets_generation_and_listings_hide_the_sites_records,
);

async fn put_get_head_list_delete(fixture: &Fixture) {
    let o = fixture.open();
    let meta = o
        .put(
            "ns",
            Bucket::Data,
            "a/b.txt",
            body(&[b"hello ", b"world"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(meta.size, 11);
    assert_eq!(meta.key, "a/b.txt");
    assert_eq!(
        meta.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(!meta.etag.is_empty());
    assert_eq!(read(&o, "ns", "a/b.txt", None).await, b"hello world");
    assert_eq!(
        o.head("ns", Bucket::Data, "a/b.txt").await.unwrap(),
        Some(meta)
    );
    assert_eq!(o.head("ns", Bucket::Data, "a/c").await.unwrap(), None);
    assert!(o
        .get("ns", Bucket::Data, "a", None)
        .await
        .unwrap()
        .is_none());

    o.put(
        "ns",
        Bucket::Data,
        "a/c",
        body(&[b"x"]),
        Some("text/x-custom".into()),
    )
    .await
    .unwrap();
    o.put("ns", Bucket::Data, "z", body(&[]), None)
        .await
        .unwrap();
    let all = o.list("ns", Bucket::Data, "", None, 10).await.unwrap();
    let keys: Vec<_> = all.objects.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a/b.txt", "a/c", "z"]);
    assert!(!all.truncated);
    let page = o.list("ns", Bucket::Data, "a/", None, 1).await.unwrap();
    assert_eq!(page.objects[0].key, "a/b.txt");
    assert!(page.truncated);
    let next = o
        .list("ns", Bucket::Data, "a/", Some("a/b.txt"), 1)
        .await
        .unwrap();
    assert_eq!(next.objects[0].key, "a/c");
    assert!(!next.truncated);
    let partial = o.list("ns", Bucket::Data, "a/b", None, 10).await.unwrap();
    assert_eq!(partial.objects.len(), 1);
    assert_eq!(
        o.head("ns", Bucket::Data, "a/c")
            .await
            .unwrap()
            .unwrap()
            .content_type
            .as_deref(),
        Some("text/x-custom")
    );
    assert_eq!(read(&o, "ns", "z", None).await, b"");

    assert!(o.delete("ns", Bucket::Data, "a/c").await.unwrap());
    assert!(!o.delete("ns", Bucket::Data, "a/c").await.unwrap());
    assert_eq!(o.head("ns", Bucket::Data, "a/c").await.unwrap(), None);
    // The type went with the object: a new one under the same key gets a guess again.
    o.put("ns", Bucket::Data, "a/c", body(&[b"y"]), None)
        .await
        .unwrap();
    let head = o.head("ns", Bucket::Data, "a/c").await.unwrap().unwrap();
    assert_eq!(
        head.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

async fn ranges(fixture: &Fixture) {
    let o = fixture.open();
    o.put("ns", Bucket::Data, "r", body(&[b"0123456789"]), None)
        .await
        .unwrap();
    assert_eq!(
        read(&o, "ns", "r", Some(ByteRange::Bounded(2..5))).await,
        b"234"
    );
    assert_eq!(
        read(&o, "ns", "r", Some(ByteRange::Bounded(8..50))).await,
        b"89"
    );
    assert_eq!(read(&o, "ns", "r", Some(ByteRange::From(7))).await, b"789");
    assert_eq!(
        read(&o, "ns", "r", Some(ByteRange::Suffix(3))).await,
        b"789"
    );
    let found = o
        .get("ns", Bucket::Data, "r", Some(ByteRange::Bounded(2..5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.range, 2..5);
    assert_eq!(found.meta.size, 10);
    let past = o
        .get("ns", Bucket::Data, "r", Some(ByteRange::From(10)))
        .await;
    assert!(matches!(past, Err(ObjectError::Range { size: 10 })));
}

async fn replacing_is_atomic_and_changes_the_etag(fixture: &Fixture) {
    let o = fixture.open();
    let first = o
        .put("ns", Bucket::Data, "k", body(&[b"old"]), None)
        .await
        .unwrap();
    // A reader that opened the old version keeps reading it whole.
    let reader = o.get("ns", Bucket::Data, "k", None).await.unwrap().unwrap();
    let second = o
        .put(
            "ns",
            Bucket::Data,
            "k",
            body(&[b"new", b" and longer"]),
            None,
        )
        .await
        .unwrap();
    assert_ne!(first.etag, second.etag);
    let old: Vec<u8> = reader.stream.map(|c| c.unwrap().to_vec()).concat().await;
    assert_eq!(old, b"old");
    assert_eq!(read(&o, "ns", "k", None).await, b"new and longer");
    // Same size, same content again: locally still a new version (S3's etag is of the bytes,
    // which is as good for a cache).
    let third = o
        .put("ns", Bucket::Data, "k", body(&[b"new and longer"]), None)
        .await
        .unwrap();
    if fixture.is_local() {
        assert_ne!(second.etag, third.etag);
    }

    // A body that fails midway leaves the old object in place and no staging file behind.
    let failing = stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::other("client went away")),
    ])
    .boxed();
    let err = o
        .put("ns", Bucket::Data, "k", failing, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Body(_)), "{err}");
    assert_eq!(read(&o, "ns", "k", None).await, b"new and longer");
    let listed = o.list("ns", Bucket::Data, "", None, 10).await.unwrap();
    assert_eq!(listed.objects.len(), 1);
}

async fn namespaces_and_buckets_are_apart(fixture: &Fixture) {
    let o = fixture.open();
    o.put("one", Bucket::Data, "k", body(&[b"1"]), None)
        .await
        .unwrap();
    o.put("two", Bucket::Data, "k", body(&[b"2"]), None)
        .await
        .unwrap();
    o.put("one", Bucket::Web, "index.html", body(&[b"<p>"]), None)
        .await
        .unwrap();
    assert_eq!(read(&o, "one", "k", None).await, b"1");
    assert_eq!(read(&o, "two", "k", None).await, b"2");
    let listed = o.list("two", Bucket::Data, "", None, 10).await.unwrap();
    assert_eq!(listed.objects.len(), 1);
    assert_eq!(
        o.list("two", Bucket::Web, "", None, 10)
            .await
            .unwrap()
            .objects
            .len(),
        0
    );
    assert_eq!(
        o.list("one", Bucket::Web, "", None, 10)
            .await
            .unwrap()
            .objects[0]
            .key,
        "index.html"
    );
    assert!(o.delete("two", Bucket::Data, "k").await.unwrap());
    assert_eq!(read(&o, "one", "k", None).await, b"1");
    // Keys cannot climb out; namespaces cannot name other folders.
    for key in ["../two/data/k", "a/../../x", "/k"] {
        let err = o.get("one", Bucket::Data, key, None).await.err().unwrap();
        assert!(matches!(err, ObjectError::InvalidKey(_)), "{key}");
    }
    for ns in ["", "..", "a/b"] {
        assert!(o.head(ns, Bucket::Data, "k").await.is_err(), "{ns}");
    }
}

async fn odd_characters_round_trip(fixture: &Fixture) {
    let o = fixture.open();
    let key = "dir with space/ünï %41#x{}[]~|^`<>\"\\.txt";
    o.put("ns", Bucket::Data, key, body(&[b"odd"]), None)
        .await
        .unwrap();
    assert_eq!(read(&o, "ns", key, None).await, b"odd");
    let listed = o
        .list("ns", Bucket::Data, "dir with", None, 10)
        .await
        .unwrap();
    assert_eq!(listed.objects[0].key, key);
}

/// A filesystem cannot have `a` as an object and a folder at once; S3 can.
async fn a_key_and_a_folder_of_the_same_name_conflict_on_a_filesystem(fixture: &Fixture) {
    let o = fixture.open();
    o.put("ns", Bucket::Data, "a", body(&[b"1"]), None)
        .await
        .unwrap();
    if !fixture.is_local() {
        o.put("ns", Bucket::Data, "a/b", body(&[b"2"]), None)
            .await
            .unwrap();
        let listed = o.list("ns", Bucket::Data, "a", None, 10).await.unwrap();
        let keys: Vec<&str> = listed.objects.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "a/b"]);
        assert_eq!(read(&o, "ns", "a", None).await, b"1");
        return;
    }
    let err = o
        .put("ns", Bucket::Data, "a/b", body(&[b"2"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Conflict(_)), "{err}");
    o.put("ns", Bucket::Data, "c/d", body(&[b"2"]), None)
        .await
        .unwrap();
    let err = o
        .put("ns", Bucket::Data, "c", body(&[b"3"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Conflict(_)), "{err}");
    // Once the folder is empty again the name is free.
    assert!(o.delete("ns", Bucket::Data, "c/d").await.unwrap());
    o.put("ns", Bucket::Data, "c", body(&[b"3"]), None)
        .await
        .unwrap();
}

async fn copies_keep_the_type_and_count_against_the_quota(fixture: &Fixture) {
    let o = fixture.open_with(ObjectsConfig { quota_bytes: 10 });
    o.put(
        "ns",
        Bucket::Data,
        "a",
        body(&[b"12345"]),
        Some("text/x-a".into()),
    )
    .await
    .unwrap();
    let copy = o
        .copy("ns", (Bucket::Data, "a"), (Bucket::Web, "b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copy.content_type.as_deref(), Some("text/x-a"));
    assert!(o
        .copy("ns", (Bucket::Data, "none"), (Bucket::Web, "c"))
        .await
        .unwrap()
        .is_none());
    // 10 bytes used: one more is refused, in a copy or a streamed put, and nothing is left.
    let err = o
        .copy("ns", (Bucket::Data, "a"), (Bucket::Data, "c"))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Quota { .. }), "{err}");
    let err = o
        .put("ns", Bucket::Data, "d", body(&[b"x"]), None)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("quota exceeded"), "{err}");
    assert!(o.head("ns", Bucket::Data, "d").await.unwrap().is_none());
    // Replacing counts the difference; other namespaces have their own quota.
    o.put("ns", Bucket::Data, "a", body(&[b"123"]), None)
        .await
        .unwrap();
    o.put("ns", Bucket::Data, "d", body(&[b"12"]), None)
        .await
        .unwrap();
    o.put("other", Bucket::Data, "a", body(&[b"0123456789"]), None)
        .await
        .unwrap();
    // A new store counts what is on disk.
    let reopened = fixture.open_with(ObjectsConfig { quota_bytes: 10 });
    let err = reopened
        .put("ns", Bucket::Web, "e", body(&[b"x"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Quota { .. }), "{err}");
}

async fn readers_racing_writers_see_whole_versions_only(fixture: &Fixture) {
    let o = Arc::new(fixture.open());
    let version = |b: u8| vec![b; 256 * 1024];
    o.put("ns", Bucket::Data, "hot", body(&[&version(b'a')]), None)
        .await
        .unwrap();
    let writer = {
        let o = o.clone();
        tokio::spawn(async move {
            for i in 0..20u8 {
                let v = version(b'a' + i % 2);
                let chunks: Vec<&[u8]> = v.chunks(10_000).collect();
                o.put("ns", Bucket::Data, "hot", body(&chunks), None)
                    .await
                    .unwrap();
            }
        })
    };
    for _ in 0..40 {
        let seen = read(&o, "ns", "hot", None).await;
        assert_eq!(seen.len(), 256 * 1024);
        assert!(seen.iter().all(|b| *b == seen[0]), "a mixed read");
    }
    writer.await.unwrap();
}

async fn the_version_alone_is_the_heads_etag_and_follows_replaces(fixture: &Fixture) {
    let o = fixture.open();
    assert_eq!(o.version("ns", Bucket::Data, "m.bin").await.unwrap(), None);
    let first = o
        .put("ns", Bucket::Data, "m.bin", body(&[b"one"]), None)
        .await
        .unwrap();
    let version = o.version("ns", Bucket::Data, "m.bin").await.unwrap();
    assert_eq!(version.as_deref(), Some(first.etag.as_str()));
    let head = o.head("ns", Bucket::Data, "m.bin").await.unwrap().unwrap();
    assert_eq!(head.etag, first.etag);
    let second = o
        .put("ns", Bucket::Data, "m.bin", body(&[b"two!"]), None)
        .await
        .unwrap();
    assert_ne!(second.etag, first.etag);
    let version = o.version("ns", Bucket::Data, "m.bin").await.unwrap();
    assert_eq!(version.as_deref(), Some(second.etag.as_str()));
    assert_eq!(
        o.version("other", Bucket::Data, "m.bin").await.unwrap(),
        None
    );
}

/// Locally the bucket's count of changes moves with each; on S3, which other processes write
/// too, there is none.
async fn every_change_moves_the_buckets_generation_and_listings_hide_the_sites_records(
    fixture: &Fixture,
) {
    let objects = fixture.open();
    let web = |o: &StoreObjects| o.generation("ns", Bucket::Web);
    let local = fixture.is_local();
    let start = web(&objects);
    assert_eq!(start.is_some(), local);
    objects
        .put("ns", Bucket::Web, "index.html", body(&[b"hi"]), None)
        .await
        .unwrap();
    let after_put = web(&objects);
    assert!(after_put > start || !local);
    if local {
        assert_eq!(
            objects.generation("ns", Bucket::Data),
            Some(0),
            "buckets count apart"
        );
        assert_eq!(
            objects.generation("other", Bucket::Web),
            Some(0),
            "namespaces too"
        );
    }
    objects
        .copy(
            "ns",
            (Bucket::Web, "index.html"),
            (Bucket::Web, "copy.html"),
        )
        .await
        .unwrap();
    let after_copy = web(&objects);
    assert!(after_copy > after_put || !local);
    objects
        .delete("ns", Bucket::Web, "copy.html")
        .await
        .unwrap();
    assert!(web(&objects) > after_copy || !local);
    assert_eq!(web(&objects).is_some(), local);

    objects
        .put("ns", Bucket::Web, ".wisp/site.json", body(&[b"{}"]), None)
        .await
        .unwrap();
    let listed = objects
        .list("ns", Bucket::Web, "", None, 100)
        .await
        .unwrap();
    let keys: Vec<&str> = listed.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["index.html"]);
    assert!(objects
        .head("ns", Bucket::Web, ".wisp/site.json")
        .await
        .unwrap()
        .is_some());
}
