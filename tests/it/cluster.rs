//! A cluster on one machine: two `wisp controller`s and three `wisp invoker`s as separate
//! processes on the machine's PostgreSQL (a database of the test's own), NATS (a cluster name
//! of its own), Redis (a namespace of its own) and S3 server (a bucket of its own), driven by the official `openwhisk` npm
//! client (`tests/compat/cluster.js`): entities written through one controller and used
//! through the other, compositions, key-value data shared by functions on different
//! invokers, and `kill -9` of an invoker and of a controller under load with every
//! acknowledged activation accounted for.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{kv_address, wisp_binary, Scratch};
use crate::tools::{self, Database};

const NATS: &str = "nats://127.0.0.1:4222";
const REDIS: &str = "redis://127.0.0.1:6379";

/// Far above the suite's normal runtime (under a minute); only a hang gets here.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// One role's process, killed when dropped.
struct Role {
    child: Child,
    /// What the role announced on the line the test waited for.
    announced: String,
}

impl Role {
    /// Starts `wisp <args>` with its home in `scratch`, and waits for the stdout line that
    /// starts with `ready`.
    fn start(scratch: &Path, args: &[&str], env: &[(&str, &str)], ready: &str) -> Role {
        let mut child = Command::new(wisp_binary())
            .args(args)
            .envs(env.iter().copied())
            .env("HOME", scratch)
            .env_remove("WISP_GUEST_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wisp starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let announced = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix(ready).map(str::to_owned))
            .unwrap_or_else(|| panic!("`wisp {}` never said `{ready}`", args.join(" ")));
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Role { child, announced }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails unless a NATS server answers on 127.0.0.1:4222.
fn require_nats() {
    let answers = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:4222".parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok();
    assert!(
        answers,
        "no NATS answers on 127.0.0.1:4222 (the full test tier needs one with JetStream): run \
         scripts/test.sh, which starts one"
    );
}

/// `GET path` from `address` over HTTP/1.0: the status and the body.
fn http_get(address: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// Every Redis key of the cluster's namespace (`wisp:<cluster>:{<namespace>}…`), deleted when
/// dropped.
struct RedisKeys {
    cluster: String,
    namespace: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let pattern = format!("wisp:{}:{{{}}}*", self.cluster, self.namespace);
        let listed = Command::new("redis-cli")
            .args(["--scan", "--pattern", &pattern])
            .output();
        if let Ok(out) = listed {
            let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            if !keys.is_empty() {
                let _ = Command::new("redis-cli").arg("DEL").args(&keys).output();
            }
        }
    }
}

#[test]
fn two_controllers_and_three_invokers_serve_the_openwhisk_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/compat/node_modules/openwhisk").is_dir(),
        "the openwhisk npm client is not installed: run scripts/test.sh"
    );
    tools::require_runtimes();
    tools::require_postgres();
    tools::require_redis();
    require_nats();

    let db = Database::create();
    let store = db.url();
    // Objects in a bucket of the test's own on the S3 server scripts/test.sh starts.
    let bucket = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(crate::objects_s3::bucket());
    let endpoint = crate::objects_s3::endpoint();
    let objects = format!("s3://{bucket}/cluster");
    let signing_key = format!("{:032x}", rand::random::<u128>());
    let aws: [(&str, &str); 5] = [
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_ACCESS_KEY_ID", "wisp-it"),
        ("AWS_SECRET_ACCESS_KEY", "wisp-it-secret"),
        ("AWS_REGION", "us-east-1"),
        // Every controller signs object URLs with the same key.
        ("WISP_URL_SIGNING_KEY", &signing_key),
    ];
    let cluster = format!("it{:012x}", rand::random::<u64>() >> 16);
    let _streams = Streams(cluster.clone());
    let scratch = Scratch::new("cluster");
    let dir = |name: &str| scratch.path().join(name).to_string_lossy().into_owned();
    let common = |role_dir: &str| -> Vec<String> {
        [
            "--data-dir",
            role_dir,
            "--bus",
            NATS,
            "--cluster",
            &cluster,
            "--kv-backend",
            REDIS,
            "--objects-backend",
            &objects,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    let controller = |id: &str| {
        let mut args: Vec<String> = vec!["controller".into(), "--controller-id".into(), id.into()];
        args.extend(common(&dir(id)));
        args.extend(
            [
                "--store",
                &store,
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "off",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Role::start(
            scratch.path(),
            &args,
            &aws,
            &format!("wisp: controller {id} of cluster {cluster}, listening on "),
        )
    };
    let c1 = controller("c1");
    let c2 = controller("c2");
    let invoker = |id: &str| {
        let kv = kv_address();
        let s3 = kv.replace(":6379", ":9000");
        let metrics = kv.replace(":6379", ":9184");
        let mut args: Vec<String> = vec!["invoker".into(), "--invoker-id".into(), id.into()];
        args.extend(common(&dir(id)));
        args.extend(
            [
                "--api-host",
                &c1.announced,
                "--kv-listen",
                &kv,
                "--s3-listen",
                &s3,
                "--stem-cells",
                "1",
                "--metrics-listen",
                &metrics,
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let role = Role::start(
            scratch.path(),
            &args,
            &aws,
            &format!("wisp: invoker {id} of cluster {cluster} ready"),
        );
        (role, metrics)
    };
    let invokers = [invoker("i1"), invoker("i2"), invoker("i3")];

    // Each invoker answers its probes and shows its pools on its metrics listener.
    let (_, probes) = &invokers[0];
    let get = |path: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match http_get(probes, path) {
                Ok(answer) => break answer,
                Err(e) if Instant::now() > deadline => panic!("{probes}{path}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    };
    assert_eq!(get("/healthz").0, 200);
    assert_eq!(get("/readyz"), (200, r#"{"ready":true}"#.to_owned()));
    let (status, metrics) = get("/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("wisp_processes"), "{metrics}");

    // A namespace of the test's own, so its Redis keys are apart from every other test's.
    let namespace = format!("cluster-{cluster}");
    let _keys = RedisKeys {
        cluster: cluster.clone(),
        namespace: namespace.clone(),
    };
    let admin = Command::new(wisp_binary())
        .args([
            "admin",
            "namespace",
            "create",
            &namespace,
            "--store",
            &store,
        ])
        .args(["--data-dir", &dir("c1")])
        .output()
        .expect("wisp admin runs");
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    let auth = String::from_utf8(admin.stdout).unwrap().trim().to_owned();

    let mut node = Command::new("node");
    node.current_dir(root)
        .args(["--test", "--test-reporter=spec", "tests/compat/cluster.js"])
        .env("WISP_APIHOST", &c1.announced)
        .env("WISP_APIHOST_B", &c2.announced)
        .env("WISP_AUTH", &auth)
        .env("WISP_KILL_INVOKER", invokers[1].0.pid().to_string())
        .env("WISP_KILL_CONTROLLER", c2.pid().to_string())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let mut child = node.spawn().expect("node runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            panic!("tests/compat/cluster.js did not finish in {SUITE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "tests/compat/cluster.js failed (its report is above)"
    );
    drop(invokers);
    drop(c2);
    drop(c1);
}

/// Every NATS stream of the cluster, deleted when dropped: the test leaves nothing behind on
/// the machine's NATS.
struct Streams(String);

impl Drop for Streams {
    fn drop(&mut self) {
        let subjects = wisp_bus::Subjects::new(&self.0);
        let removed = async {
            if let Ok(client) = wisp_bus::connect(NATS).await {
                wisp_bus::remove_streams(&client, &subjects).await;
            }
        };
        if let Ok(runtime) = tokio::runtime::Runtime::new() {
            runtime.block_on(removed);
        }
    }
}
