//! The command families, quota and expiry, driven through `apply` with a fixed clock.

use std::sync::Arc;

use super::{EmbeddedKv, KvConfig};
use crate::command::Request;
use crate::resp::Reply;
use crate::KvStore;

const T0: u64 = 1_700_000_000_000;

/// A store in a directory of its own; the store is dropped before its directory is removed.
struct Store {
    kv: Arc<EmbeddedKv>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Store {
    type Target = EmbeddedKv;
    fn deref(&self) -> &EmbeddedKv {
        &self.kv
    }
}

fn store(quota: usize) -> Store {
    let config = KvConfig {
        quota_bytes: quota,
        ..KvConfig::default()
    };
    let dir = crate::test_dir("embedded");
    let kv = EmbeddedKv::open(dir.path(), config).unwrap();
    Store { kv, _dir: dir }
}

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// Runs `line` in namespace `ns` at time `now`.
fn at(kv: &EmbeddedKv, ns: &str, now: u64, line: &str) -> Reply {
    match Request::parse(words(line)) {
        Ok(Request::Data(c)) => kv.apply(ns, vec![c], now).0.remove(0),
        other => panic!("{line}: {other:?}"),
    }
}

fn run(kv: &EmbeddedKv, line: &str) -> Reply {
    at(kv, "ns", T0, line)
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s)
}

fn sorted(reply: Reply) -> Vec<String> {
    let Reply::Array(Some(items)) = reply else {
        panic!("{reply:?}")
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn strings() {
    let kv = store(1 << 20);
    assert_eq!(run(&kv, "GET k"), Reply::nil());
    assert_eq!(run(&kv, "SET k v"), Reply::ok());
    assert_eq!(run(&kv, "GET k"), bulk("v"));
    assert_eq!(run(&kv, "SET k w NX"), Reply::nil());
    assert_eq!(run(&kv, "SET new w XX"), Reply::nil());
    assert_eq!(run(&kv, "SET k w XX GET"), bulk("v"));
    assert_eq!(run(&kv, "SETNX k x"), int(0));
    assert_eq!(run(&kv, "SETNX k2 x"), int(1));
    assert_eq!(run(&kv, "GETSET k2 y"), bulk("x"));
    assert_eq!(run(&kv, "APPEND k2 zz"), int(3));
    assert_eq!(run(&kv, "STRLEN k2"), int(3));
    assert_eq!(run(&kv, "MSET a 1 b 2"), Reply::ok());
    assert_eq!(
        run(&kv, "MGET a nope b"),
        Reply::array([bulk("1"), Reply::nil(), bulk("2")])
    );
    assert_eq!(run(&kv, "INCR a"), int(2));
    assert_eq!(run(&kv, "INCRBY a 10"), int(12));
    assert_eq!(run(&kv, "DECR a"), int(11));
    assert_eq!(run(&kv, "DECRBY a 20"), int(-9));
    assert_eq!(run(&kv, "INCR fresh"), int(1));
    assert_eq!(
        run(&kv, "INCR k"),
        Reply::err("value is not an integer or out of range")
    );
    assert_eq!(run(&kv, "SET big 9223372036854775807"), Reply::ok());
    assert_eq!(
        run(&kv, "INCR big"),
        Reply::err("increment or decrement would overflow")
    );
    assert_eq!(run(&kv, "INCRBYFLOAT f 10.5"), bulk("10.5"));
    assert_eq!(run(&kv, "INCRBYFLOAT f -0.5"), bulk("10"));
    assert_eq!(
        run(&kv, "INCRBYFLOAT k 1"),
        Reply::err("value is not a valid float")
    );
    assert_eq!(run(&kv, "EXISTS a a nope"), int(2));
    assert_eq!(run(&kv, "DEL a nope b"), int(2));
    assert_eq!(run(&kv, "TYPE k"), Reply::Simple("string".into()));
    assert_eq!(run(&kv, "TYPE a"), Reply::Simple("none".into()));
}

#[test]
fn lists() {
    let kv = store(1 << 20);
    assert_eq!(run(&kv, "RPUSH l a b c"), int(3));
    assert_eq!(run(&kv, "LPUSH l z"), int(4));
    assert_eq!(
        run(&kv, "LRANGE l 0 -1"),
        Reply::bulks(["z", "a", "b", "c"].map(|s| s.as_bytes().to_vec()))
    );
    assert_eq!(
        run(&kv, "LRANGE l -2 100"),
        Reply::bulks(["b", "c"].map(|s| s.as_bytes().to_vec()))
    );
    assert_eq!(run(&kv, "LRANGE l 5 10"), Reply::array([]));
    assert_eq!(run(&kv, "LINDEX l -1"), bulk("c"));
    assert_eq!(run(&kv, "LINDEX l 9"), Reply::nil());
    assert_eq!(run(&kv, "LLEN l"), int(4));
    assert_eq!(run(&kv, "RPUSH l a a"), int(6));
    assert_eq!(run(&kv, "LREM l -2 a"), int(2));
    assert_eq!(
        run(&kv, "LRANGE l 0 -1"),
        Reply::bulks(["z", "a", "b", "c"].map(|s| s.as_bytes().to_vec()))
    );
    assert_eq!(run(&kv, "LPOP l"), bulk("z"));
    assert_eq!(
        run(&kv, "RPOP l 2"),
        Reply::bulks(["c", "b"].map(|s| s.as_bytes().to_vec()))
    );
    assert_eq!(run(&kv, "LPOP l"), bulk("a"));
    assert_eq!(run(&kv, "EXISTS l"), int(0), "an emptied list is deleted");
    assert_eq!(run(&kv, "LPOP l"), Reply::nil());
    assert_eq!(run(&kv, "LPOP l 2"), Reply::Array(None));
    run(&kv, "SET s x");
    assert_eq!(run(&kv, "RPUSH s a"), Reply::Error(WRONGTYPE.into()));
    assert_eq!(run(&kv, "LLEN s"), Reply::Error(WRONGTYPE.into()));
}

#[test]
fn sets() {
    let kv = store(1 << 20);
    assert_eq!(run(&kv, "SADD s a b a"), int(2));
    assert_eq!(run(&kv, "SADD s b c"), int(1));
    assert_eq!(sorted(run(&kv, "SMEMBERS s")), ["a", "b", "c"]);
    assert_eq!(run(&kv, "SISMEMBER s a"), int(1));
    assert_eq!(run(&kv, "SISMEMBER s x"), int(0));
    assert_eq!(run(&kv, "SCARD s"), int(3));
    assert_eq!(run(&kv, "SREM s a x"), int(1));
    assert_eq!(run(&kv, "SREM s b c"), int(2));
    assert_eq!(run(&kv, "TYPE s"), Reply::Simple("none".into()));
    assert_eq!(run(&kv, "SMEMBERS s"), Reply::array([]));
    run(&kv, "SET k v");
    assert_eq!(run(&kv, "SADD k a"), Reply::Error(WRONGTYPE.into()));
}

#[test]
fn hashes() {
    let kv = store(1 << 20);
    assert_eq!(run(&kv, "HSET h a 1 b 2"), int(2));
    assert_eq!(run(&kv, "HSET h a 3 c 4"), int(1));
    assert_eq!(run(&kv, "HMSET h d 5"), Reply::ok());
    assert_eq!(run(&kv, "HGET h a"), bulk("3"));
    assert_eq!(run(&kv, "HGET h x"), Reply::nil());
    assert_eq!(
        run(&kv, "HMGET h a x"),
        Reply::array([bulk("3"), Reply::nil()])
    );
    assert_eq!(sorted(run(&kv, "HKEYS h")), ["a", "b", "c", "d"]);
    assert_eq!(sorted(run(&kv, "HVALS h")), ["2", "3", "4", "5"]);
    assert_eq!(sorted(run(&kv, "HGETALL h")).len(), 8);
    assert_eq!(run(&kv, "HLEN h"), int(4));
    assert_eq!(run(&kv, "HEXISTS h a"), int(1));
    assert_eq!(run(&kv, "HINCRBY h a 10"), int(13));
    assert_eq!(run(&kv, "HINCRBY h new -2"), int(-2));
    run(&kv, "HSET h s text");
    assert_eq!(
        run(&kv, "HINCRBY h s 1"),
        Reply::err("hash value is not an integer")
    );
    assert_eq!(run(&kv, "HDEL h a b x"), int(2));
    assert_eq!(run(&kv, "HMGET nope a"), Reply::array([Reply::nil()]));
    assert_eq!(run(&kv, "GET h"), Reply::Error(WRONGTYPE.into()));
}

#[test]
fn keys_scan_dbsize_and_flush_stay_in_their_namespace() {
    let kv = store(1 << 20);
    for i in 0..25 {
        at(&kv, "a", T0, &format!("SET address:{i} x"));
    }
    at(&kv, "a", T0, "SET other x");
    at(&kv, "b", T0, "SET address:0 theirs");
    assert_eq!(sorted(at(&kv, "a", T0, "KEYS address:1?")).len(), 10);
    assert_eq!(sorted(at(&kv, "b", T0, "KEYS *")), ["address:0"]);
    assert_eq!(at(&kv, "a", T0, "DBSIZE"), int(26));

    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    for _ in 0..100 {
        let Reply::Array(Some(parts)) = at(
            &kv,
            "a",
            T0,
            &format!("SCAN {cursor} MATCH address:* COUNT 7"),
        ) else {
            panic!()
        };
        let Reply::Bulk(Some(next)) = &parts[0] else {
            panic!()
        };
        cursor = String::from_utf8(next.clone()).unwrap();
        seen.extend(sorted(parts[1].clone()));
        // A key deleted mid-scan does not disturb the others.
        at(&kv, "a", T0, "DEL other");
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 25, "every key exactly once");
    seen.dedup();
    assert_eq!(seen.len(), 25);

    assert_eq!(at(&kv, "a", T0, "FLUSHALL ASYNC"), Reply::ok());
    assert_eq!(at(&kv, "a", T0, "DBSIZE"), int(0));
    assert_eq!(at(&kv, "b", T0, "GET address:0"), bulk("theirs"));
}

#[test]
fn keys_expire_lazily_and_by_the_sweep() {
    let kv = store(1 << 20);
    run(&kv, "SET k v EX 10");
    assert_eq!(run(&kv, "TTL k"), int(10));
    assert_eq!(at(&kv, "ns", T0 + 2_400, "TTL k"), int(8));
    assert_eq!(at(&kv, "ns", T0 + 2_400, "PTTL k"), int(7_600));
    assert_eq!(run(&kv, "TTL nope"), int(-2));
    run(&kv, "SET p v");
    assert_eq!(run(&kv, "TTL p"), int(-1));
    assert_eq!(run(&kv, "PEXPIRE p 500"), int(1));
    assert_eq!(run(&kv, "PERSIST p"), int(1));
    assert_eq!(run(&kv, "PERSIST p"), int(0));
    assert_eq!(run(&kv, "EXPIRE nope 5"), int(0));
    assert_eq!(at(&kv, "ns", T0 + 10_000, "GET k"), Reply::nil());
    assert_eq!(at(&kv, "ns", T0 + 10_000, "EXISTS k"), int(0));

    run(&kv, "SET k v KEEPTTL");
    run(&kv, "EXPIRE k 5");
    run(&kv, "SET k w KEEPTTL");
    assert_eq!(run(&kv, "TTL k"), int(5));
    run(&kv, "SET k w");
    assert_eq!(
        run(&kv, "TTL k"),
        int(-1),
        "SET without KEEPTTL clears the expiry"
    );
    assert_eq!(run(&kv, "EXPIRE k -1"), int(1));
    assert_eq!(run(&kv, "EXISTS k"), int(0), "a past expiry deletes");

    run(&kv, "SETEX s 1 v");
    assert_eq!(sorted(at(&kv, "ns", T0 + 999, "KEYS *")), ["p", "s"]);
    kv.sweep(T0 + 1_000);
    assert_eq!(kv.lock().spaces["ns"].len(), 1, "the sweep removed s");
}

#[test]
fn a_write_past_the_quota_is_refused_and_changes_nothing() {
    let kv = store(100);
    run(&kv, "SET a 12345678901234567890");
    assert_eq!(kv.used_bytes("ns"), 21);
    let refused = run(&kv, &format!("MSET b x c {}", "y".repeat(90)));
    let Reply::Error(text) = refused else {
        panic!("{refused:?}")
    };
    assert!(text.starts_with("ERR quota exceeded: "), "{text}");
    assert_eq!(run(&kv, "EXISTS b c"), int(0), "MSET is all or nothing");
    assert_eq!(kv.used_bytes("ns"), 21);
    assert!(run(&kv, &format!("APPEND a {}", "z".repeat(80))).is_error());
    assert_eq!(run(&kv, "STRLEN a"), int(20));
    // Shrinking is always allowed, and other namespaces have their own quota.
    assert_eq!(run(&kv, "SET a x"), Reply::ok());
    assert_eq!(
        at(&kv, "other", T0, &format!("SET k {}", "v".repeat(98))),
        Reply::ok()
    );
}

#[tokio::test]
async fn a_transaction_applies_all_its_commands_and_replies_an_array() {
    let kv = store(1 << 20);
    let commands = ["INCR n", "INCR n", "GET k", "SADD n x"]
        .map(|l| match Request::parse(words(l)) {
            Ok(Request::Data(c)) => c,
            _ => panic!(),
        })
        .to_vec();
    assert_eq!(
        kv.transaction("ns", commands).await,
        Reply::array([int(1), int(2), Reply::nil(), Reply::Error(WRONGTYPE.into())])
    );
}

fn swap(expect: &[(&str, Option<&str>)], write: &[(&str, Option<&str>)]) -> crate::Swap {
    let pairs = |list: &[(&str, Option<&str>)]| {
        list.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    };
    crate::Swap {
        expect: pairs(expect),
        write: pairs(write),
    }
}

#[test]
fn a_swap_writes_only_while_every_expected_value_still_holds() {
    let kv = store(1 << 20);
    run(&kv, "SET n 1");
    run(&kv, "EXPIRE n 100");
    let first = swap(
        &[("n", Some("1")), ("s", None)],
        &[("n", Some("2")), ("s", Some("a"))],
    );
    assert_eq!(kv.apply_swap("ns", first, T0).0, Ok(true));
    assert_eq!(run(&kv, "MGET n s"), Reply::array([bulk("2"), bulk("a")]));
    assert_eq!(
        run(&kv, "TTL n"),
        int(100),
        "a written key keeps its expiry"
    );

    // The same swap again: `n` no longer holds 1, so nothing is written.
    let stale = swap(
        &[("n", Some("1")), ("s", None)],
        &[("n", Some("9")), ("s", None)],
    );
    assert_eq!(kv.apply_swap("ns", stale, T0).0, Ok(false));
    assert_eq!(run(&kv, "MGET n s"), Reply::array([bulk("2"), bulk("a")]));

    // A delete, and a key of another type is an error that writes nothing.
    let delete = swap(&[("s", Some("a"))], &[("s", None)]);
    assert_eq!(kv.apply_swap("ns", delete, T0).0, Ok(true));
    assert_eq!(run(&kv, "EXISTS s"), int(0));
    run(&kv, "SADD set x");
    let typed = swap(&[("set", None)], &[("n", Some("3"))]);
    assert_eq!(
        kv.apply_swap("ns", typed, T0).0,
        Err(Reply::Error(WRONGTYPE.into()))
    );
    assert_eq!(run(&kv, "GET n"), bulk("2"));
}

#[test]
fn a_swap_past_the_quota_writes_nothing() {
    let kv = store(40);
    let big = "v".repeat(40);
    let over = swap(&[], &[("a", Some("1")), ("b", Some(big.as_str()))]);
    let (Err(Reply::Error(text)), _) = kv.apply_swap("ns", over, T0) else {
        panic!("expected a quota error")
    };
    assert!(text.starts_with("ERR quota exceeded: "), "{text}");
    assert_eq!(run(&kv, "EXISTS a b"), int(0));
}
