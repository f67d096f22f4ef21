//! The Redis backend against the machine's Redis (127.0.0.1:6379, or `WISP_TEST_REDIS_URL`):
//! the command families, namespace isolation, transactions, swaps and the quota, as the
//! embedded backend's tests check them. Each test uses namespaces of its own, with a random
//! name, and deletes every key under them when it ends.

use std::process::Command as Process;
use std::sync::Arc;
use std::time::Duration;

use wisp_kv::command::Request;
use wisp_kv::{Command, KvStore, RedisConfig, RedisKv, Reply, Swap};

/// These tests are of the full tier (`--features full-tests`): without Redis they fail, saying
/// this.
const INSTALL: &str = "run scripts/test.sh, which installs Redis (Debian's redis-server) and \
                       starts one on 127.0.0.1:6379";

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn url() -> String {
    std::env::var("WISP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A namespace no other test (or run) uses; its keys are deleted when it is dropped.
struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Ns {
        Ns(format!("test-{tag}-{:016x}", rand::random::<u64>()))
    }

    /// A raw command on the machine's Redis, through `redis-cli`.
    fn cli(args: &[&str]) -> String {
        let out = Process::new("redis-cli")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("redis-cli: {e}: {INSTALL}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Every Redis key under this namespace, data and bookkeeping.
    fn raw_keys(&self) -> Vec<String> {
        let pattern = format!("wisp:{{{}}}*", self.0);
        let mut keys: Vec<String> = Ns::cli(&["--scan", "--pattern", &pattern])
            .lines()
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    /// What the quota counts for this namespace.
    fn used(&self) -> u64 {
        Ns::cli(&["GET", &format!("wisp:{{{}}}#used", self.0)])
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let keys = self.raw_keys();
        if !keys.is_empty() {
            let mut args = vec!["DEL"];
            args.extend(keys.iter().map(String::as_str));
            Ns::cli(&args);
        }
    }
}

async fn store(quota: usize) -> Arc<RedisKv> {
    RedisKv::connect(RedisConfig::new(url(), quota))
        .await
        .unwrap_or_else(|e| panic!("no Redis answers at {}: {e}: {INSTALL}", url()))
}

fn command(line: &str) -> Command {
    let args = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
    match Request::parse(args) {
        Ok(Request::Data(c)) => c,
        other => panic!("{line}: {other:?}"),
    }
}

async fn run(kv: &RedisKv, ns: &Ns, line: &str) -> Reply {
    kv.execute(&ns.0, command(line)).await
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s)
}

fn bulks(items: &[&str]) -> Reply {
    Reply::bulks(items.iter().map(|s| s.as_bytes().to_vec()))
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

#[tokio::test]
async fn strings_and_numbers_pass_through_with_redis_replies() {
    let kv = store(1 << 20).await;
    let ns = Ns::new("strings");
    let r = |line: &'static str| run(&kv, &ns, line);
    assert_eq!(r("GET k").await, Reply::nil());
    assert_eq!(r("SET k v").await, Reply::ok());
    assert_eq!(r("GET k").await, bulk("v"));
    assert_eq!(r("SET k w NX").await, Reply::nil());
    assert_eq!(r("SET new w XX").await, Reply::nil());
    assert_eq!(r("SET k w XX GET").await, bulk("v"));
    assert_eq!(r("SETNX k x").await, int(0));
    assert_eq!(r("SETNX k2 x").await, int(1));
    assert_eq!(r("GETSET k2 y").await, bulk("x"));
    assert_eq!(r("APPEND k2 zz").await, int(3));
    assert_eq!(r("STRLEN k2").await, int(3));
    assert_eq!(r("MSET a 1 b 2").await, Reply::ok());
    assert_eq!(
        r("MGET a nope b").await,
        Reply::array([bulk("1"), Reply::nil(), bulk("2")])
    );
    assert_eq!(r("INCR a").await, int(2));
    assert_eq!(r("INCRBY a 10").await, int(12));
    assert_eq!(r("DECRBY a 20").await, int(-8));
    assert_eq!(r("INCR fresh").await, int(1));
    assert_eq!(
        r("INCR k").await,
        Reply::err("value is not an integer or out of range")
    );
    assert_eq!(r("SET big 9223372036854775806").await, Reply::ok());
    assert_eq!(r("INCR big").await, int(i64::MAX), "exact past 2^53");
    assert_eq!(
        r("INCR big").await,
        Reply::err("increment or decrement would overflow")
    );
    assert_eq!(r("INCRBYFLOAT f 10.5").await, bulk("10.5"));
    assert_eq!(r("INCRBYFLOAT f -0.5").await, bulk("10"));
    assert_eq!(r("EXISTS a a nope").await, int(2));
    assert_eq!(r("DEL a nope b").await, int(2));
    assert_eq!(r("TYPE k").await, Reply::Simple("string".into()));
    assert_eq!(r("TYPE a").await, Reply::Simple("none".into()));

    // Lua's stack bounds a scripted command's arguments; past it, a clear refusal.
    let pairs = |n: usize| (0..n).map(|i| format!(" m{i} v")).collect::<String>();
    let most = run_owned(&kv, &ns, format!("MSET{}", pairs(3_949))).await;
    assert_eq!(most, Reply::ok());
    let refused = run_owned(&kv, &ns, format!("MSET{}", pairs(3_950))).await;
    assert_eq!(
        refused,
        Reply::err("too many arguments for 'mset' on the redis backend (7900 at most)")
    );

    // TTLs are Redis's own.
    assert_eq!(r("SET t v EX 10").await, Reply::ok());
    assert_eq!(r("TTL t").await, int(10));
    assert_eq!(r("SET t w KEEPTTL").await, Reply::ok());
    assert_eq!(r("TTL t").await, int(10));
    assert_eq!(r("PERSIST t").await, int(1));
    assert_eq!(r("TTL t").await, int(-1));
    assert_eq!(r("TTL nope").await, int(-2));
    assert_eq!(r("EXPIRE t -1").await, int(1));
    assert_eq!(r("EXISTS t").await, int(0), "a past expiry deletes");
    assert_eq!(r("PEXPIRE k 50").await, int(1));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(r("GET k").await, Reply::nil());
}

#[tokio::test]
async fn lists_sets_and_hashes() {
    let kv = store(1 << 20).await;
    let ns = Ns::new("collections");
    let r = |line: &'static str| run(&kv, &ns, line);
    assert_eq!(r("RPUSH l a b c").await, int(3));
    assert_eq!(r("LPUSH l z").await, int(4));
    assert_eq!(r("LRANGE l 0 -1").await, bulks(&["z", "a", "b", "c"]));
    assert_eq!(r("LINDEX l -1").await, bulk("c"));
    assert_eq!(r("RPUSH l a a").await, int(6));
    assert_eq!(r("LREM l -2 a").await, int(2));
    assert_eq!(r("LLEN l").await, int(4));
    assert_eq!(r("LPOP l").await, bulk("z"));
    assert_eq!(r("RPOP l 2").await, bulks(&["c", "b"]));
    assert_eq!(r("LPOP l").await, bulk("a"));
    assert_eq!(r("EXISTS l").await, int(0), "an emptied list is deleted");
    assert_eq!(r("LPOP l 2").await, Reply::Array(None));

    assert_eq!(r("SADD s a b a").await, int(2));
    assert_eq!(r("SADD s b c").await, int(1));
    assert_eq!(sorted(r("SMEMBERS s").await), ["a", "b", "c"]);
    assert_eq!(r("SISMEMBER s a").await, int(1));
    assert_eq!(r("SCARD s").await, int(3));
    assert_eq!(r("SREM s a x").await, int(1));
    assert_eq!(r("SREM s b c").await, int(2));
    assert_eq!(r("TYPE s").await, Reply::Simple("none".into()));

    assert_eq!(r("HSET h a 1 b 2").await, int(2));
    assert_eq!(r("HSET h a 3 c 4").await, int(1));
    assert_eq!(r("HMSET h d 5").await, Reply::ok());
    assert_eq!(
        r("HMGET h a x").await,
        Reply::array([bulk("3"), Reply::nil()])
    );
    assert_eq!(sorted(r("HKEYS h").await), ["a", "b", "c", "d"]);
    assert_eq!(r("HLEN h").await, int(4));
    assert_eq!(r("HINCRBY h a 10").await, int(13));
    assert_eq!(r("HINCRBY h new -2").await, int(-2));
    assert_eq!(r("HSET h s text").await, int(1));
    assert_eq!(
        r("HINCRBY h s 1").await,
        Reply::err("hash value is not an integer")
    );
    assert_eq!(r("HDEL h a b x").await, int(2));

    r("SET str v").await;
    for line in [
        "RPUSH str a",
        "SADD str a",
        "HSET str f v",
        "LPOP str",
        "GET h",
    ] {
        assert_eq!(
            run(&kv, &ns, line).await,
            Reply::Error(WRONGTYPE.into()),
            "{line}"
        );
    }

    // The count matches the embedded backend's measure: keys, members, fields and values.
    // h: c=4 d=5 new=-2 s=text; str: v.
    assert_eq!(ns.used(), (1 + 2 + 2 + 5 + 5) + (3 + 1));
    r("DEL h str").await;
    assert_eq!(ns.used(), 0);
    assert_eq!(ns.raw_keys(), Vec::<String>::new(), "nothing left behind");
}

#[tokio::test]
async fn namespaces_never_see_each_other() {
    let kv = store(1 << 20).await;
    let (a, b) = (Ns::new("iso-a"), Ns::new("iso-b"));
    for i in 0..25 {
        kv.execute(&a.0, command(&format!("SET address:{i} x")))
            .await;
    }
    run(&kv, &a, "SET other x").await;
    run(&kv, &a, "SET we*rd x").await;
    run(&kv, &b, "SET address:0 theirs").await;
    assert_eq!(sorted(run(&kv, &a, "KEYS address:1?").await).len(), 10);
    assert_eq!(sorted(run(&kv, &a, "KEYS we\\*rd").await), ["we*rd"]);
    assert_eq!(sorted(run(&kv, &b, "KEYS *").await), ["address:0"]);
    assert_eq!(run(&kv, &a, "DBSIZE").await, int(27));
    assert_eq!(run(&kv, &b, "DBSIZE").await, int(1));
    assert_eq!(run(&kv, &b, "GET other").await, Reply::nil());

    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let reply = run_owned(&kv, &a, format!("SCAN {cursor} MATCH address:* COUNT 7")).await;
        let Reply::Array(Some(parts)) = reply else {
            panic!("{reply:?}")
        };
        let Reply::Bulk(Some(next)) = &parts[0] else {
            panic!()
        };
        cursor = String::from_utf8(next.clone()).unwrap();
        seen.extend(sorted(parts[1].clone()));
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "every key, none of b's");

    assert_eq!(run(&kv, &a, "FLUSHALL ASYNC").await, Reply::ok());
    assert_eq!(run(&kv, &a, "DBSIZE").await, int(0));
    assert_eq!(a.raw_keys(), Vec::<String>::new());
    assert_eq!(run(&kv, &b, "GET address:0").await, bulk("theirs"));
    assert_eq!(
        b.raw_keys(),
        [
            format!("wisp:{{{}}}#keys", b.0),
            format!("wisp:{{{}}}#used", b.0),
            format!("wisp:{{{}}}:address:0", b.0),
        ]
    );
}

async fn run_owned(kv: &RedisKv, ns: &Ns, line: String) -> Reply {
    kv.execute(&ns.0, command(&line)).await
}

#[tokio::test]
async fn expired_keys_stop_counting_when_the_quota_needs_their_room() {
    let kv = store(100).await;
    let ns = Ns::new("expiry");
    let fifty = "v".repeat(49);
    assert_eq!(
        run_owned(&kv, &ns, format!("SET a {fifty} PX 50")).await,
        Reply::ok()
    );
    assert_eq!(
        run_owned(&kv, &ns, format!("SET b {fifty}")).await,
        Reply::ok()
    );
    assert_eq!(ns.used(), 100);
    tokio::time::sleep(Duration::from_millis(120)).await;
    // `a` expired in Redis unseen; the write that needs its room finds it gone.
    assert_eq!(run(&kv, &ns, "SET c 1").await, Reply::ok());
    assert_eq!(ns.used(), 52);
    assert_eq!(sorted(run(&kv, &ns, "KEYS *").await), ["b", "c"]);
}

#[tokio::test]
async fn a_write_past_the_quota_is_refused_and_changes_nothing() {
    let kv = store(100).await;
    let ns = Ns::new("quota");
    let other = Ns::new("quota-other");
    run(&kv, &ns, "SET a 12345678901234567890").await;
    assert_eq!(ns.used(), 21);
    let refused = run_owned(&kv, &ns, format!("MSET b x c {}", "y".repeat(90))).await;
    let Reply::Error(text) = refused else {
        panic!("{refused:?}")
    };
    assert!(text.starts_with("ERR quota exceeded: "), "{text}");
    assert_eq!(
        run(&kv, &ns, "EXISTS b c").await,
        int(0),
        "MSET is all or nothing"
    );
    assert_eq!(ns.used(), 21);
    let append = run_owned(&kv, &ns, format!("APPEND a {}", "z".repeat(80))).await;
    assert!(append.is_error(), "{append:?}");
    assert_eq!(run(&kv, &ns, "STRLEN a").await, int(20));
    let push = run_owned(
        &kv,
        &ns,
        format!("RPUSH l {} {}", "p".repeat(40), "q".repeat(40)),
    )
    .await;
    assert!(push.is_error(), "{push:?}");
    assert_eq!(run(&kv, &ns, "EXISTS l").await, int(0));
    // Up to the byte: 21 + (1 + 77 + 1) = 100.
    let fits = run_owned(&kv, &ns, format!("HSET h {} x", "f".repeat(77))).await;
    assert_eq!(fits, int(1));
    assert_eq!(ns.used(), 100);
    assert!(run(&kv, &ns, "SADD s m").await.is_error());
    assert!(
        run(&kv, &ns, "INCR n").await.is_error(),
        "the increment is undone"
    );
    assert_eq!(run(&kv, &ns, "EXISTS n").await, int(0));
    assert!(run(&kv, &ns, "HINCRBY h g 1").await.is_error());
    assert_eq!(run(&kv, &ns, "HLEN h").await, int(1));
    // Shrinking is always allowed, and other namespaces have their own quota.
    assert_eq!(run(&kv, &ns, "SET a x").await, Reply::ok());
    assert_eq!(ns.used(), 81);
    assert_eq!(run(&kv, &ns, "APPEND a yz").await, int(3));
    assert_eq!(ns.used(), 83);
    assert_eq!(
        run_owned(&kv, &other, format!("SET k {}", "v".repeat(98))).await,
        Reply::ok()
    );
}

#[tokio::test]
async fn a_transaction_runs_atomically_and_replies_an_array() {
    let kv = store(1 << 20).await;
    let ns = Ns::new("multi");
    let commands = ["INCR n", "INCR n", "GET k", "SADD n x", "KEYS *"]
        .map(command)
        .to_vec();
    assert_eq!(
        kv.transaction(&ns.0, commands).await,
        Reply::array([
            int(1),
            int(2),
            Reply::nil(),
            Reply::Error(WRONGTYPE.into()),
            bulks(&["n"])
        ])
    );

    // Concurrent transactions that read then write never interleave: each INCR pair leaves
    // the counter even.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (kv, ns) = (kv.clone(), ns.0.clone());
        tasks.push(tokio::spawn(async move {
            let pair = vec![command("INCR n"), command("INCR n")];
            let Reply::Array(Some(replies)) = kv.transaction(&ns, pair).await else {
                panic!()
            };
            match (&replies[0], &replies[1]) {
                (Reply::Integer(a), Reply::Integer(b)) => assert_eq!((a % 2, *b), (1, a + 1)),
                other => panic!("{other:?}"),
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(run(&kv, &ns, "GET n").await, bulk("42"));
}

#[tokio::test]
async fn pipelined_commands_of_a_namespace_apply_in_call_order() {
    let kv = store(1 << 20).await;
    let ns = Ns::new("order");
    // Called in order, awaited afterwards (as the RESP server does with a burst).
    let futures: Vec<_> = (0..200)
        .map(|i| kv.execute(&ns.0, command(&format!("RPUSH l {i}"))))
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(f.await, int(i as i64 + 1));
    }
    let Reply::Array(Some(items)) = run(&kv, &ns, "LRANGE l 0 -1").await else {
        panic!()
    };
    let expected: Vec<Reply> = (0..200).map(|i| bulk(&i.to_string())).collect();
    assert_eq!(items, expected);
}

fn swap(expect: &[(&str, Option<&str>)], write: &[(&str, Option<&str>)]) -> Swap {
    let pairs = |list: &[(&str, Option<&str>)]| {
        list.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    };
    Swap {
        expect: pairs(expect),
        write: pairs(write),
    }
}

#[tokio::test]
async fn a_swap_writes_only_while_every_expected_value_still_holds() {
    let kv = store(1 << 20).await;
    let ns = Ns::new("swap");
    run(&kv, &ns, "SET n 1").await;
    run(&kv, &ns, "EXPIRE n 100").await;
    let first = swap(
        &[("n", Some("1")), ("s", None)],
        &[("n", Some("2")), ("s", Some("a"))],
    );
    assert_eq!(kv.swap(&ns.0, first).await, Ok(true));
    assert_eq!(
        run(&kv, &ns, "MGET n s").await,
        Reply::array([bulk("2"), bulk("a")])
    );
    assert_eq!(
        run(&kv, &ns, "TTL n").await,
        int(100),
        "a written key keeps its expiry"
    );

    let stale = swap(
        &[("n", Some("1")), ("s", None)],
        &[("n", Some("9")), ("s", None)],
    );
    assert_eq!(kv.swap(&ns.0, stale).await, Ok(false));
    assert_eq!(
        run(&kv, &ns, "MGET n s").await,
        Reply::array([bulk("2"), bulk("a")])
    );

    let delete = swap(&[("s", Some("a"))], &[("s", None)]);
    assert_eq!(kv.swap(&ns.0, delete).await, Ok(true));
    assert_eq!(run(&kv, &ns, "EXISTS s").await, int(0));
    run(&kv, &ns, "SADD set x").await;
    let typed = swap(&[("set", None)], &[("n", Some("3"))]);
    assert_eq!(
        kv.swap(&ns.0, typed).await,
        Err(Reply::Error(WRONGTYPE.into()))
    );
    assert_eq!(run(&kv, &ns, "GET n").await, bulk("2"));
    assert_eq!(ns.used(), 2 + 4);
}

#[tokio::test]
async fn a_swap_past_the_quota_writes_nothing() {
    let kv = store(40).await;
    let ns = Ns::new("swap-quota");
    let big = "v".repeat(40);
    let over = swap(&[], &[("a", Some("1")), ("b", Some(big.as_str()))]);
    let Err(Reply::Error(text)) = kv.swap(&ns.0, over).await else {
        panic!("expected a quota error")
    };
    assert!(text.starts_with("ERR quota exceeded: "), "{text}");
    assert_eq!(run(&kv, &ns, "EXISTS a b").await, int(0));
    assert_eq!(ns.used(), 0);
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_at_connect() {
    let refused = RedisKv::connect(RedisConfig::new("redis://127.0.0.1:1", 100)).await;
    assert!(refused.is_err());
    assert!(RedisKv::connect(RedisConfig::new("http://x", 100))
        .await
        .is_err());
}

/// A private `redis-server` on a free port, stopped when dropped.
struct PrivateRedis {
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> PrivateRedis {
        PrivateRedis::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> PrivateRedis {
        let child = Process::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server: {e}: {INSTALL}"));
        let redis = PrivateRedis { child: Some(child) };
        for _ in 0..100 {
            if Ns::cli(&["-p", &port.to_string(), "PING"]) == "PONG" {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on {port}");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_lost_redis_is_an_error_reply_and_a_restarted_one_is_used_again() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}"), 1 << 20);
    let kv = RedisKv::connect(config).await.unwrap();
    assert_eq!(kv.execute("ns", command("SET k v")).await, Reply::ok());

    redis.stop();
    let Reply::Error(text) = kv.execute("ns", command("GET k")).await else {
        panic!("a reply from a stopped redis")
    };
    assert!(text.starts_with("ERR kv persistence failed: "), "{text}");

    // A new Redis (empty: it kept nothing): the lane reconnects and loads the script again.
    let _redis = PrivateRedis::start(port);
    assert_eq!(kv.execute("ns", command("GET k")).await, Reply::nil());
    assert_eq!(kv.execute("ns", command("INCR n")).await, int(1));
}

#[tokio::test]
async fn a_redis_cluster_node_is_refused_at_start_with_the_reason() {
    let port = free_port();
    let nodes = std::env::temp_dir().join(format!("wisp-kv-cluster-{port}.conf"));
    let _redis = PrivateRedis::start_with(
        port,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            nodes.to_str().unwrap(),
        ],
    );
    let config = RedisConfig::new(format!("redis://127.0.0.1:{port}"), 1 << 20);
    let Err(refused) = RedisKv::connect(config).await else {
        panic!("a Redis Cluster node was taken")
    };
    assert!(refused.to_string().contains("cluster mode"), "{refused}");
    let _ = std::fs::remove_file(nodes);
}

#[tokio::test]
async fn two_clusters_share_one_redis_without_seeing_each_other() {
    let ns = Ns::new("clusters");
    let default = store(1 << 20).await;
    let blue = RedisKv::connect(RedisConfig::new(url(), 1 << 20).for_cluster("blue"))
        .await
        .expect("the machine's Redis answers");
    assert_eq!(run(&default, &ns, "SET k default").await, Reply::ok());
    assert_eq!(run(&blue, &ns, "SET k blue").await, Reply::ok());
    assert_eq!(run(&default, &ns, "GET k").await, bulk("default"));
    assert_eq!(run(&blue, &ns, "GET k").await, bulk("blue"));

    // The default cluster keeps the keys a lone server always had; another cluster's are under
    // its name, with the same hash tag.
    assert!(ns.raw_keys().contains(&format!("wisp:{{{}}}:k", ns.0)));
    let pattern = format!("wisp:blue:{{{}}}*", ns.0);
    let mut blue_keys: Vec<String> = Ns::cli(&["--scan", "--pattern", &pattern])
        .lines()
        .map(str::to_owned)
        .collect();
    blue_keys.sort();
    assert!(
        blue_keys.contains(&format!("wisp:blue:{{{}}}:k", ns.0)),
        "{blue_keys:?}"
    );
    assert!(
        blue_keys.contains(&format!("wisp:blue:{{{}}}#used", ns.0)),
        "{blue_keys:?}"
    );
    let mut args = vec!["DEL"];
    args.extend(blue_keys.iter().map(String::as_str));
    Ns::cli(&args);
}
