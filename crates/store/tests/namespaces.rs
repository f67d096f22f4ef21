//! Namespace data in the embedded entity store: throttle overrides, what survives a reopen, and
//! what deleting a namespace takes with it.

mod support;

use wisp_core::{EntityName, NamespaceLimits};
use wisp_store::{EntityStore, KeyRecord, SqliteStore};

use support::Dir;

fn name(s: &str) -> EntityName {
    EntityName::parse(s).unwrap()
}

fn key(uuid: &str, namespace: &str) -> KeyRecord {
    KeyRecord {
        uuid: uuid.into(),
        key_sha256: vec![0; 32],
        namespace: name(namespace),
        subject: namespace.into(),
    }
}

#[tokio::test]
async fn limits_are_empty_until_set_and_replaced_whole() {
    let dir = Dir::new("limits");
    let (store, _) = SqliteStore::open(dir.path()).unwrap();
    assert!(store.get_limits(name("a")).await.unwrap().is_empty());

    let first = NamespaceLimits {
        invocations_per_minute: Some(10),
        fires_per_minute: Some(0),
        ..Default::default()
    };
    store.put_limits(name("a"), first).await.unwrap();
    assert_eq!(store.get_limits(name("a")).await.unwrap(), first);
    assert!(store.get_limits(name("b")).await.unwrap().is_empty());

    let second = NamespaceLimits {
        concurrent_invocations: Some(u64::MAX),
        ..Default::default()
    };
    store.put_limits(name("a"), second).await.unwrap();
    let read = store.get_limits(name("a")).await.unwrap();
    assert_eq!(
        read.invocations_per_minute, None,
        "a put replaces every field"
    );
    // Beyond SQLite's signed range a count is stored as the largest it holds: still no limit.
    assert_eq!(read.concurrent_invocations, Some(i64::MAX as u64));

    store
        .put_limits(name("a"), NamespaceLimits::default())
        .await
        .unwrap();
    assert!(store.get_limits(name("a")).await.unwrap().is_empty());
}

#[tokio::test]
async fn limits_survive_a_reopen_and_go_with_their_namespace() {
    let dir = Dir::new("limits-reopen");
    let limits = NamespaceLimits {
        concurrent_invocations: Some(3),
        ..Default::default()
    };
    {
        let (store, _) = SqliteStore::open(dir.path()).unwrap();
        store.put_key(key("u1", "a")).await.unwrap();
        store.put_key(key("u2", "b")).await.unwrap();
        store.put_limits(name("a"), limits).await.unwrap();
        store.put_limits(name("b"), limits).await.unwrap();
    }
    let (store, _) = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.get_limits(name("a")).await.unwrap(), limits);

    assert_eq!(store.delete_namespace(name("a")).await.unwrap(), 1);
    assert!(store.get_limits(name("a")).await.unwrap().is_empty());
    assert_eq!(store.get_limits(name("b")).await.unwrap(), limits);
}
