//! The facade against the embedded store: each call's typed answer, and the store's
//! refusals as `KeysError`s.

use std::sync::Arc;

use crate::{Command, EmbeddedKv, KvConfig, KvStore, Refusal, Swap};

use super::{Entry, Keys, KeysError, Ttl, Value};

const NS: &str = "ns";

/// Keys over an embedded store in a directory of its own, removed when dropped.
struct Store {
    keys: Keys,
    store: Arc<dyn KvStore>,
    _dir: tempfile::TempDir,
}

fn store(quota_bytes: usize) -> Store {
    let dir = tempfile::Builder::new()
        .prefix("wisp-services-keys-")
        .tempdir()
        .unwrap();
    let config = KvConfig {
        quota_bytes,
        ..KvConfig::default()
    };
    let store: Arc<dyn KvStore> = EmbeddedKv::open(dir.path(), config).unwrap();
    Store {
        keys: Keys::new(store.clone()),
        store,
        _dir: dir,
    }
}

fn b(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

#[tokio::test]
async fn strings_are_set_read_counted_and_deleted() {
    let s = store(1 << 20);
    let keys = &s.keys;

    assert_eq!(keys.get(NS, "k").await, Ok(None));
    keys.set(NS, "k", b("v"), None).await.unwrap();
    assert_eq!(keys.get(NS, "k").await, Ok(Some(b("v"))));
    assert_eq!(
        keys.get("other", "k").await,
        Ok(None),
        "namespaces are apart"
    );
    assert_eq!(keys.incr(NS, "n", 5).await, Ok(5));
    assert_eq!(keys.incr(NS, "n", -7).await, Ok(-2));
    assert_eq!(keys.count(NS).await, Ok(2));
    assert_eq!(keys.delete(NS, "k").await, Ok(true));
    assert_eq!(keys.delete(NS, "k").await, Ok(false));
}

#[tokio::test]
async fn expiry_is_given_at_set_or_later_and_read_back() {
    let s = store(1 << 20);
    let keys = &s.keys;

    keys.set(NS, "session", b("s"), Some(100)).await.unwrap();
    keys.set(NS, "kept", b("v"), None).await.unwrap();

    assert!(matches!(
        keys.ttl(NS, "session").await,
        Ok(Ttl::Seconds(99..=100))
    ));
    assert_eq!(keys.ttl(NS, "kept").await, Ok(Ttl::Never));
    assert_eq!(keys.ttl(NS, "absent").await, Ok(Ttl::Absent));
    assert_eq!(keys.expire(NS, "kept", 30).await, Ok(true));
    assert!(matches!(
        keys.ttl(NS, "kept").await,
        Ok(Ttl::Seconds(29..=30))
    ));
    assert_eq!(keys.expire(NS, "absent", 30).await, Ok(false));
    assert_eq!(
        keys.set(NS, "k", b("v"), Some(0)).await,
        Err(KeysError::BadExpiry)
    );
    assert_eq!(
        keys.expire(NS, "kept", u64::MAX).await,
        Err(KeysError::BadExpiry)
    );
}

#[tokio::test]
async fn listings_take_the_prefix_literally_and_a_flush_counts_what_it_deleted() {
    let s = store(1 << 20);
    let keys = &s.keys;
    for key in ["a/1", "a/2", "a*", "b"] {
        keys.set(NS, key, b("v"), None).await.unwrap();
    }

    let mut listed = keys.keys(NS, "a").await.unwrap();
    listed.sort();
    assert_eq!(listed, [b("a*"), b("a/1"), b("a/2")]);
    assert_eq!(keys.keys(NS, "a*").await, Ok(vec![b("a*")]));
    assert_eq!(keys.flush(NS).await, Ok(4));
    assert_eq!(keys.keys(NS, "").await, Ok(vec![]));
}

#[tokio::test]
async fn a_snapshot_reads_several_keys_and_names_one_of_another_type() {
    let s = store(1 << 20);
    let keys = &s.keys;
    keys.set(NS, "a", b("1"), None).await.unwrap();
    let names = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();

    assert_eq!(
        keys.snapshot(NS, &names(&["a", "absent"])).await,
        Ok(vec![Some(b("1")), None])
    );
    s.store
        .execute(NS, Command::SAdd(b("set"), vec![b("x")]))
        .await;
    let refused = keys.snapshot(NS, &names(&["a", "set"])).await.unwrap_err();
    let KeysError::Key { key, error } = &refused else {
        panic!("{refused:?}");
    };
    assert_eq!(key, "set");
    assert!(matches!(**error, KeysError::Refused(_)), "{error:?}");
    assert_eq!(refused.refusal(), Refusal::WrongType);
    assert!(
        refused.to_string().starts_with("'set': WRONGTYPE"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_swap_writes_only_over_the_values_it_expects() {
    let s = store(1 << 20);
    let keys = &s.keys;
    keys.set(NS, "a", b("1"), None).await.unwrap();
    let swap = |expect: Option<&str>, write: Option<&str>| Swap {
        expect: vec![(b("a"), expect.map(b))],
        write: vec![(b("a"), write.map(b))],
    };

    assert_eq!(keys.swap(NS, swap(Some("0"), Some("2"))).await, Ok(false));
    assert_eq!(keys.get(NS, "a").await, Ok(Some(b("1"))));
    assert_eq!(keys.swap(NS, swap(Some("1"), Some("2"))).await, Ok(true));
    assert_eq!(keys.get(NS, "a").await, Ok(Some(b("2"))));
    assert_eq!(keys.swap(NS, swap(Some("2"), None)).await, Ok(true));
    assert_eq!(keys.get(NS, "a").await, Ok(None));
}

#[tokio::test]
async fn an_entry_is_read_whole_whatever_its_type() {
    let s = store(1 << 20);
    let keys = &s.keys;
    let run = |command| s.store.execute(NS, command);
    keys.set(NS, "s", b("v"), Some(60)).await.unwrap();
    run(Command::Push {
        key: b("l"),
        left: false,
        values: vec![b("2"), b("1")],
    })
    .await;
    run(Command::SAdd(b("set"), vec![b("x")])).await;
    run(Command::HSet {
        key: b("h"),
        pairs: vec![(b("f"), b("v"))],
        hmset: false,
    })
    .await;

    let string = keys.entry(NS, "s").await.unwrap().unwrap();
    assert_eq!(string.value, Value::String(b("v")));
    assert!(matches!(string.ttl, Ttl::Seconds(59..=60)));
    assert_eq!(
        keys.entry(NS, "l").await,
        Ok(Some(Entry {
            value: Value::List(vec![b("2"), b("1")]),
            ttl: Ttl::Never,
        }))
    );
    let set = keys.entry(NS, "set").await.unwrap().unwrap();
    assert_eq!(
        (set.value.kind(), set.value),
        ("set", Value::Set(vec![b("x")]))
    );
    assert_eq!(
        keys.entry(NS, "h").await.unwrap().unwrap().value,
        Value::Hash(vec![(b("f"), b("v"))])
    );
    assert_eq!(keys.entry(NS, "absent").await, Ok(None));
}

#[tokio::test]
async fn refusals_keep_the_stores_text_and_say_what_they_are() {
    let s = store(64);
    let keys = &s.keys;
    keys.set(NS, "text", b("x"), None).await.unwrap();

    let not_a_number = keys.incr(NS, "text", 1).await.unwrap_err();
    assert_eq!(not_a_number.refusal(), Refusal::NotANumber);
    assert_eq!(
        not_a_number.to_string(),
        "ERR value is not an integer or out of range"
    );
    let quota = keys.set(NS, "big", vec![0; 100], None).await.unwrap_err();
    assert_eq!(quota.refusal(), Refusal::Quota, "{quota}");
    assert_eq!(keys.get(NS, "big").await, Ok(None));
}
