//! Namespace data: keys, throttle overrides, what survives a reopen, and what deleting a
//! namespace takes with it.

use wisp_core::{EntityName, NamespaceLimits};
use wisp_store::KeyRecord;

use crate::support::Fixture;

on_every_backend!(
    keys_are_found_by_uuid_replaced_whole_and_listed_in_order,
    limits_are_empty_until_set_and_replaced_whole,
    limits_survive_a_reopen_and_go_with_their_namespace,
);

pub fn name(s: &str) -> EntityName {
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

async fn keys_are_found_by_uuid_replaced_whole_and_listed_in_order(fixture: &Fixture) {
    let store = fixture.open().await.entities;
    assert!(store.find_key("u1".into()).await.unwrap().is_none());
    store.put_key(key("u2", "b")).await.unwrap();
    store.put_key(key("u1", "b")).await.unwrap();
    store.put_key(key("u3", "B")).await.unwrap();
    let replaced = KeyRecord {
        key_sha256: (0..32).collect(),
        subject: "someone".into(),
        ..key("u2", "a")
    };
    store.put_key(replaced.clone()).await.unwrap();

    let found = store.find_key("u2".into()).await.unwrap().unwrap();
    assert_eq!(found.namespace, name("a"));
    assert_eq!(found.key_sha256, replaced.key_sha256);
    assert_eq!(found.subject, "someone");
    // By namespace, then uuid, byte by byte (upper case first), whatever the locale.
    let listed: Vec<(String, String)> = store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.namespace.to_string(), k.uuid))
        .collect();
    let expected = [("B", "u3"), ("a", "u2"), ("b", "u1")];
    assert_eq!(
        listed,
        expected.map(|(n, u)| (n.to_string(), u.to_string()))
    );
}

async fn limits_are_empty_until_set_and_replaced_whole(fixture: &Fixture) {
    let store = fixture.open().await.entities;
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
    // Beyond SQL's signed range a count is stored as the largest it holds: still no limit.
    assert_eq!(read.concurrent_invocations, Some(i64::MAX as u64));

    store
        .put_limits(name("a"), NamespaceLimits::default())
        .await
        .unwrap();
    assert!(store.get_limits(name("a")).await.unwrap().is_empty());
}

async fn limits_survive_a_reopen_and_go_with_their_namespace(fixture: &Fixture) {
    let limits = NamespaceLimits {
        concurrent_invocations: Some(3),
        ..Default::default()
    };
    {
        let store = fixture.open().await.entities;
        store.put_key(key("u1", "a")).await.unwrap();
        store.put_key(key("u2", "b")).await.unwrap();
        store.put_limits(name("a"), limits).await.unwrap();
        store.put_limits(name("b"), limits).await.unwrap();
    }
    let store = fixture.open().await.entities;
    assert_eq!(store.get_limits(name("a")).await.unwrap(), limits);

    assert_eq!(store.delete_namespace(name("a")).await.unwrap(), 1);
    assert!(store.get_limits(name("a")).await.unwrap().is_empty());
    assert_eq!(store.get_limits(name("b")).await.unwrap(), limits);
    assert_eq!(store.delete_namespace(name("a")).await.unwrap(), 0);
}
