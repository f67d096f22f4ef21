//! The key-value store from inside functions: every activation gets `__NIM_REDIS_IP` and
//! `__NIM_REDIS_PASSWORD`, and a Redis client speaking RESP2 to port 6379 of that address (here
//! a small one written with Node's `net`) finds its namespace's keyspace, durable across
//! `kill -9`. The machine's `redis-cli` checks the same data from outside.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::{admin_namespace, create_resp_client as create_client, resp as run, Server};

#[tokio::test]
async fn functions_reach_their_namespace_keyspace_over_resp() {
    let mut server = Server::start();
    let other = admin_namespace(&server, "tenant");
    create_client(&server, None).await;
    create_client(&server, Some(&other)).await;

    // Concurrent activations incrementing one counter end at the exact count.
    let params = json!({"commands": [["INCR", "counter"]]});
    for body in server.invoke_concurrently("kv", params, 10).await {
        assert!(body["replies"][0].as_u64().is_some(), "{body}");
    }
    let replies = run(
        &server,
        None,
        json!([
            ["GET", "counter"],
            ["SADD", "tags", "a", "b"],
            ["KEYS", "*"],
            ["NOSUCH"]
        ]),
    )
    .await;
    assert_eq!(replies[0], "10");
    assert_eq!(replies[1], 2);
    let mut keys: Vec<String> = serde_json::from_value(replies[2].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["counter", "tags"]);
    assert!(replies[3]["error"]
        .as_str()
        .unwrap()
        .starts_with("ERR unknown command"));

    // Another namespace: same key names, its own data; its FLUSHALL leaves ours alone.
    let theirs = run(
        &server,
        Some(&other),
        json!([
            ["GET", "counter"],
            ["SET", "counter", "99"],
            ["KEYS", "*"],
            ["FLUSHALL"]
        ]),
    )
    .await;
    assert_eq!(theirs[0], Value::Null);
    assert_eq!(theirs[2], json!(["counter"]));

    // From outside, with the machine's redis-cli and the password the function was given.
    let password = password_of(&server).await;
    let (host, port) = server.kv_address.split_once(':').unwrap();
    crate::tools::require("redis-cli", crate::tools::REDIS);
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-h", host, "-p", port, "--no-auth-warning", "-a", &password])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["GET", "counter"]), "10");
    let wrong = Command::new("redis-cli")
        .args([
            "-h",
            host,
            "-p",
            port,
            "--no-auth-warning",
            "-a",
            "not-the-password",
            "GET",
            "counter",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&wrong.stdout).to_string()
        + &String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("WRONGPASS"), "{said}");

    // Python activations get the same variables.
    let code = "import os\ndef main(args):\n    return {'ip': os.environ.get('__NIM_REDIS_IP'), 'password': os.environ.get('__NIM_REDIS_PASSWORD')}";
    server.action("envpy", "python:3", code, json!({})).await;
    let (status, body) = server
        .post(
            "namespaces/_/actions/envpy?blocking=true&result=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"ip": host, "password": password}));

    // Acknowledged writes survive kill -9.
    server.kill9();
    server.launch(&[]);
    let replies = run(
        &server,
        None,
        json!([["INCR", "counter"], ["SCARD", "tags"]]),
    )
    .await;
    assert_eq!(replies, json!([11, 2]));
}

/// The guest namespace's key-value password, as an activation sees it.
async fn password_of(server: &Server) -> String {
    let code = "function main() { return { password: process.env.__NIM_REDIS_PASSWORD } }";
    server
        .action("password", "nodejs:20", code, json!({}))
        .await;
    let (status, body) = server
        .post(
            "namespaces/_/actions/password?blocking=true&result=true",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["password"].as_str().unwrap().to_string()
}

/// Nimbella's Node.js SDK, unchanged, zipped into the action with its `node_modules` (installed
/// by scripts/test.sh from tests/fixtures/nimbella-sdk).
const SDK_ACTION: &str = r#"
const nim = require('@nimbella/sdk')
exports.main = async function (params) {
  const kv = nim.redis()
  try {
    if (params.op === 'ping') return { pong: await kv.pingAsync() }
    if (params.op === 'count') return { n: await kv.incrAsync('visits') }
    await kv.msetAsync('address:1', 'Ada', 'address:2', 'Bob', 'other', 'x')
    const keys = (await kv.keysAsync('address:*')).sort()
    const names = await kv.mgetAsync(keys)
    await kv.saddAsync('room', 'ada', 'bob', 'ada')
    const members = (await kv.smembersAsync('room')).sort()
    await kv.rpushAsync('log', 'joined', 'left')
    const log = await kv.lrangeAsync('log', 0, -1)
    await kv.expireAsync('other', 100)
    return { keys, names, members, log, ttl: await kv.ttlAsync('other'), visits: await kv.getAsync('visits') }
  } finally {
    kv.quit()
  }
}
"#;

#[tokio::test]
async fn nimbellas_node_sdk_works_unchanged() {
    let server = Server::start();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nimbella-sdk/node_modules");
    assert!(
        fixture.join("@nimbella/sdk").is_dir(),
        "Nimbella's SDK is not installed in {}: run scripts/test.sh, which installs it",
        fixture.display()
    );
    let code =
        crate::support::zip_with_tree(&[("index.js", SDK_ACTION)], ("node_modules", &fixture));
    let body = json!({"exec": {"kind": "nodejs:20", "code": code}, "limits": {"concurrency": 20}});
    let (status, created) = server.put("namespaces/_/actions/sdk", body).await;
    assert_eq!(status, 200, "{created}");

    // One warm process first (unpacking 36 MB of node_modules is slow on a busy machine); then
    // 20 concurrent visits, which it serves together: the counter ends at exactly 20.
    let (status, body) = server
        .post(
            "namespaces/_/actions/sdk?blocking=true&result=true",
            json!({"op": "ping"}),
        )
        .await;
    assert_eq!(server.settled(status, body).await, json!({"pong": "PONG"}));
    let mut seen: Vec<u64> = server
        .invoke_concurrently("sdk", json!({"op": "count"}), 20)
        .await
        .iter()
        .map(|body| body["n"].as_u64().unwrap_or_else(|| panic!("{body}")))
        .collect();
    seen.sort();
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>());

    let (status, body) = server
        .post(
            "namespaces/_/actions/sdk?blocking=true&result=true",
            json!({}),
        )
        .await;
    let result = server.settled(status, body).await;
    assert_eq!(result["keys"], json!(["address:1", "address:2"]));
    assert_eq!(result["names"], json!(["Ada", "Bob"]));
    assert_eq!(result["members"], json!(["ada", "bob"]));
    assert_eq!(result["log"], json!(["joined", "left"]));
    assert_eq!(result["visits"], "20");
    let ttl = result["ttl"].as_i64().unwrap();
    assert!((1..=100).contains(&ttl), "{result}");
}

/// Nimbella's Python SDK, unchanged, in a zip action whose `virtualenv/` holds it and everything
/// it imports (installed by scripts/test.sh from tests/fixtures/nimbella-sdk-python). Values come
/// back as bytes, as from any redis-py client.
const PYTHON_SDK_ACTION: &str = r#"
import nimbella

def main(args):
    kv = nimbella.redis()
    if args.get('op') == 'count':
        return {'n': kv.incr('visits')}
    kv.mset({'py:1': 'Ada', 'py:2': 'Bob'})
    keys = sorted(k.decode() for k in kv.keys('py:*'))
    names = [v.decode() for v in kv.mget(keys)]
    kv.sadd('room', 'ada', 'bob')
    members = sorted(m.decode() for m in kv.smembers('room'))
    return {'keys': keys, 'names': names, 'members': members, 'visits': int(kv.get('visits'))}
"#;

#[tokio::test]
async fn nimbellas_python_sdk_works_unchanged() {
    let server = Server::start();
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nimbella-sdk-python/site");
    assert!(
        site.join("nimbella").is_dir(),
        "Nimbella's Python SDK is not installed in {}: run scripts/test.sh, which installs it",
        site.display()
    );
    let code = crate::support::zip_with_tree(
        &[("__main__.py", PYTHON_SDK_ACTION)],
        ("virtualenv/lib/python3/site-packages", &site),
    );
    let (status, created) = server
        .put(
            "namespaces/_/actions/pysdk",
            json!({"exec": {"kind": "python:3", "code": code}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");

    // The first call unpacks the archive; then 10 concurrent visits count exactly.
    let (status, body) = server
        .post(
            "namespaces/_/actions/pysdk?blocking=true&result=true",
            json!({"op": "count"}),
        )
        .await;
    assert_eq!(server.settled(status, body).await, json!({"n": 1}));
    let mut seen: Vec<u64> = server
        .invoke_concurrently("pysdk", json!({"op": "count"}), 10)
        .await
        .iter()
        .map(|body| body["n"].as_u64().unwrap_or_else(|| panic!("{body}")))
        .collect();
    seen.sort();
    assert_eq!(seen, (2..=11).collect::<Vec<u64>>());

    let (status, body) = server
        .post(
            "namespaces/_/actions/pysdk?blocking=true&result=true",
            json!({}),
        )
        .await;
    let result = server.settled(status, body).await;
    assert_eq!(
        result,
        json!({"keys": ["py:1", "py:2"], "names": ["Ada", "Bob"], "members": ["ada", "bob"], "visits": 11})
    );
}
