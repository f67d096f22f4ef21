use bytes::Bytes;
use futures_util::stream;

use super::*;

/// A directory of its own under the system's temporary directory, removed when dropped.
fn dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wisp-objects-{name}-"))
        .tempdir()
        .unwrap()
}

/// A local store in a directory of its own, removed after the store is dropped.
struct Local {
    store: StoreObjects,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Local {
    type Target = StoreObjects;
    fn deref(&self) -> &StoreObjects {
        &self.store
    }
}

fn objects(name: &str) -> Local {
    let dir = dir(name);
    let store = StoreObjects::local(dir.path(), ObjectsConfig::default()).unwrap();
    Local { store, _dir: dir }
}

fn body(chunks: &[&[u8]]) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks).boxed()
}

async fn read(objects: &StoreObjects, ns: &str, key: &str, range: Option<ByteRange>) -> Vec<u8> {
    let found = objects
        .get(ns, Bucket::Data, key, range)
        .await
        .unwrap()
        .unwrap();
    let mut bytes = Vec::new();
    let mut stream = found.stream;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    bytes
}

#[tokio::test]
async fn put_get_head_list_delete() {
    let o = objects("basic");
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

#[tokio::test]
async fn ranges() {
    let o = objects("ranges");
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

#[tokio::test]
async fn replacing_is_atomic_and_changes_the_etag() {
    let o = objects("replace");
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
    // Same size, same content again: still a new version.
    let third = o
        .put("ns", Bucket::Data, "k", body(&[b"new and longer"]), None)
        .await
        .unwrap();
    assert_ne!(second.etag, third.etag);

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

#[tokio::test]
async fn namespaces_and_buckets_are_apart() {
    let o = objects("apart");
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

#[tokio::test]
async fn odd_characters_round_trip() {
    let o = objects("odd");
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

#[tokio::test]
async fn a_key_and_a_folder_of_the_same_name_conflict() {
    let o = objects("conflict");
    o.put("ns", Bucket::Data, "a", body(&[b"1"]), None)
        .await
        .unwrap();
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

#[tokio::test]
async fn copies_keep_the_type_and_count_against_the_quota() {
    let root = dir("quota");
    let o = StoreObjects::local(root.path(), ObjectsConfig { quota_bytes: 10 }).unwrap();
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
    let reopened = StoreObjects::local(root.path(), ObjectsConfig { quota_bytes: 10 }).unwrap();
    let err = reopened
        .put("ns", Bucket::Web, "e", body(&[b"x"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Quota { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_writers_see_whole_versions_only() {
    let o = Arc::new(objects("race"));
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

#[tokio::test]
async fn the_version_alone_is_the_heads_etag_and_follows_replaces() {
    let o = objects("version");
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

#[tokio::test]
async fn every_change_moves_the_buckets_generation_and_listings_hide_the_sites_records() {
    let objects = objects("generation");
    let web = |o: &StoreObjects| o.generation("ns", Bucket::Web).unwrap();
    let start = web(&objects);
    objects
        .put("ns", Bucket::Web, "index.html", body(&[b"hi"]), None)
        .await
        .unwrap();
    let after_put = web(&objects);
    assert!(after_put > start);
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
    objects
        .copy(
            "ns",
            (Bucket::Web, "index.html"),
            (Bucket::Web, "copy.html"),
        )
        .await
        .unwrap();
    let after_copy = web(&objects);
    assert!(after_copy > after_put);
    objects
        .delete("ns", Bucket::Web, "copy.html")
        .await
        .unwrap();
    assert!(web(&objects) > after_copy);

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
    // A store others may write too keeps no count.
    let shared = StoreObjects::new(
        Arc::new(object_store::memory::InMemory::new()),
        ObjectsConfig::default(),
    );
    assert_eq!(shared.generation("ns", Bucket::Web), None);
}
