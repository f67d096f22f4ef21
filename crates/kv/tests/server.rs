//! The RESP server end to end: a real listener on 127.0.0.1, driven by the machine's
//! `redis-cli` and by raw TCP where the exact bytes matter.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wisp_kv::{serve, EmbeddedKv, KvConfig, KvStore, Passwords, ServerConfig};

const REDIS_CLI: &str = "/usr/bin/redis-cli";
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    port: u16,
    kv: Arc<EmbeddedKv>,
    passwords: Arc<Passwords>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(dir: &Path, kv: KvConfig, server: ServerConfig) -> Server {
        let kv = EmbeddedKv::open(dir, kv).unwrap();
        let passwords = Arc::new(Passwords::open(dir).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let store: Arc<dyn KvStore> = kv.clone();
        let task = tokio::spawn(serve(listener, store, passwords.clone(), server));
        Server {
            port,
            kv,
            passwords,
            task,
        }
    }

    async fn default(dir: &Path) -> Server {
        Server::start(dir, KvConfig::default(), ServerConfig::default()).await
    }

    fn password(&self, namespace: &str) -> String {
        self.passwords.password_for(namespace).unwrap()
    }

    /// Runs `redis-cli` with `args` as `namespace`; returns its stdout and stderr, trimmed.
    async fn cli(&self, namespace: &str, args: &[&str]) -> String {
        let password = self.password(namespace);
        cli(self.port, &password, args, None).await
    }

    async fn connect(&self) -> Raw {
        Raw(TcpStream::connect(("127.0.0.1", self.port)).await.unwrap())
    }

    /// Stops accepting and forgets the store without any shutdown path, as a killed process.
    fn kill(self) {
        self.task.abort();
        std::mem::forget(self.kv);
    }
}

async fn cli(port: u16, password: &str, args: &[&str], stdin: Option<Vec<u8>>) -> String {
    let mut command = tokio::process::Command::new(REDIS_CLI);
    command
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-a", password])
        .arg("--no-auth-warning")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "{REDIS_CLI}: {e}: run scripts/test.sh, which installs Redis (Debian's redis-server)"
        )
    });
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(&bytes).await.unwrap();
    }
    drop(input);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("redis-cli finishes in time")
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    text.trim().to_string()
}

/// A raw connection, for exact bytes.
struct Raw(TcpStream);

impl Raw {
    async fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).await.unwrap();
    }

    /// Reads exactly as many bytes as `expected` holds and compares.
    async fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0; expected.len()];
        tokio::time::timeout(PATIENCE, self.0.read_exact(&mut got))
            .await
            .expect("reply in time")
            .expect("reply");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// Whether the server closed the connection (EOF before any further byte).
    async fn closed(&mut self) -> bool {
        let mut byte = [0];
        matches!(
            tokio::time::timeout(PATIENCE, self.0.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    async fn auth(&mut self, password: &str) {
        self.send(format!("AUTH {password}\r\n").as_bytes()).await;
        self.expect(b"+OK\r\n").await;
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
fn dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wisp-kv-it-{name}-"))
        .tempdir()
        .unwrap()
}

#[tokio::test]
async fn a_wrong_or_missing_password_opens_nothing() {
    let dir = dir("auth");
    let server = Server::default(dir.path()).await;
    let right = server.password("alice");
    let out = cli(server.port, "not-the-password", &["GET", "k"], None).await;
    assert!(out.contains("WRONGPASS") || out.contains("NOAUTH"), "{out}");

    let mut raw = server.connect().await;
    raw.send(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").await;
    raw.expect(b"-NOAUTH Authentication required.\r\n").await;
    raw.send(b"AUTH nope\r\n").await;
    raw.expect(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        .await;
    raw.send(format!("AUTH someone {right}\r\n").as_bytes())
        .await;
    raw.expect(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        .await;
    raw.send(format!("AUTH default {right}\r\nPING\r\n").as_bytes())
        .await;
    raw.expect(b"+OK\r\n+PONG\r\n").await;
}

#[tokio::test]
async fn an_unknown_command_is_an_error_and_the_connection_stays_usable() {
    let dir = dir("unknown");
    let server = Server::default(dir.path()).await;
    let out = server.cli("alice", &["FROB", "a", "b"]).await;
    assert_eq!(
        out,
        "ERR unknown command 'FROB', with args beginning with: 'a' 'b'"
    );
    let mut raw = server.connect().await;
    raw.auth(&server.password("alice")).await;
    raw.send(b"*1\r\n$4\r\nFROB\r\n*1\r\n$4\r\nPING\r\nget\r\n")
        .await;
    raw.expect(b"-ERR unknown command 'FROB', with args beginning with: \r\n+PONG\r\n")
        .await;
    raw.expect(b"-ERR wrong number of arguments for 'get' command\r\n")
        .await;
}

#[tokio::test]
async fn namespaces_never_see_each_others_keys() {
    let dir = dir("isolation");
    let server = Server::default(dir.path()).await;
    assert_eq!(server.cli("alice", &["SET", "address:1", "a"]).await, "OK");
    assert_eq!(server.cli("alice", &["SET", "address:2", "a"]).await, "OK");
    assert_eq!(server.cli("bob", &["SET", "address:1", "b"]).await, "OK");
    assert_eq!(server.cli("bob", &["GET", "address:1"]).await, "b");
    assert_eq!(server.cli("alice", &["GET", "address:1"]).await, "a");
    assert_eq!(server.cli("bob", &["KEYS", "*"]).await, "address:1");
    assert_eq!(server.cli("alice", &["DBSIZE"]).await, "2");
    assert_eq!(server.cli("alice", &["FLUSHALL", "ASYNC"]).await, "OK");
    assert_eq!(server.cli("alice", &["KEYS", "*"]).await, "");
    assert_eq!(server.cli("bob", &["GET", "address:1"]).await, "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_from_twenty_connections_counts_every_increment() {
    let dir = dir("incr");
    let server = Server::default(dir.path()).await;
    let password = server.password("alice");
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let password = password.clone();
            let port = server.port;
            tokio::spawn(
                async move { cli(port, &password, &["-r", "50", "INCR", "hits"], None).await },
            )
        })
        .collect();
    for client in clients {
        let out = client.await.unwrap();
        assert_eq!(out.lines().count(), 50, "{out}");
    }
    assert_eq!(server.cli("alice", &["GET", "hits"]).await, "1000");
}

#[tokio::test]
async fn acknowledged_keys_survive_a_killed_process() {
    let dir = dir("reopen");
    let server = Server::default(dir.path()).await;
    let password = server.password("alice");
    server.cli("alice", &["SET", "s", "v"]).await;
    server.cli("alice", &["RPUSH", "l", "a", "b"]).await;
    server.cli("alice", &["HSET", "h", "f", "1"]).await;
    server.cli("alice", &["SADD", "set", "m"]).await;
    server.cli("alice", &["SET", "t", "v", "EX", "100"]).await;
    server.cli("alice", &["SET", "gone", "v"]).await;
    server.cli("alice", &["DEL", "gone"]).await;
    server.cli("bob", &["SET", "s", "theirs"]).await;
    server.kill();

    let server = Server::default(dir.path()).await;
    assert_eq!(server.password("alice"), password, "the password is kept");
    assert_eq!(server.cli("alice", &["GET", "s"]).await, "v");
    assert_eq!(
        server.cli("alice", &["LRANGE", "l", "0", "-1"]).await,
        "a\nb"
    );
    assert_eq!(server.cli("alice", &["HGET", "h", "f"]).await, "1");
    assert_eq!(server.cli("alice", &["SMEMBERS", "set"]).await, "m");
    let ttl: i64 = server.cli("alice", &["TTL", "t"]).await.parse().unwrap();
    assert!((90..=100).contains(&ttl), "{ttl}");
    assert_eq!(server.cli("alice", &["EXISTS", "gone"]).await, "0");
    assert_eq!(server.cli("bob", &["GET", "s"]).await, "theirs");
}

#[tokio::test]
async fn keys_expire() {
    let dir = dir("ttl");
    let config = KvConfig {
        sweep_every: Duration::from_millis(100),
        ..KvConfig::default()
    };
    let server = Server::start(dir.path(), config.clone(), ServerConfig::default()).await;
    assert_eq!(
        server.cli("alice", &["SET", "k", "v", "PX", "300"]).await,
        "OK"
    );
    assert_eq!(
        server
            .cli("alice", &["SET", "swept", "v", "PX", "300"])
            .await,
        "OK"
    );
    assert_eq!(server.cli("alice", &["EXPIRE", "k", "100"]).await, "1");
    assert_eq!(server.cli("alice", &["PEXPIRE", "k", "300"]).await, "1");
    assert_eq!(server.cli("alice", &["GET", "k"]).await, "v");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(server.cli("alice", &["GET", "k"]).await, "");
    assert_eq!(server.cli("alice", &["TTL", "k"]).await, "-2");
    assert_eq!(server.kv.used_bytes("alice"), 0, "the sweep took 'swept'");
    server.kill();
    let server = Server::start(dir.path(), config, ServerConfig::default()).await;
    assert_eq!(server.cli("alice", &["DBSIZE"]).await, "0");
}

#[tokio::test]
async fn a_write_over_the_quota_is_refused_whole() {
    let dir = dir("quota");
    let config = KvConfig {
        quota_bytes: 1000,
        ..KvConfig::default()
    };
    let server = Server::start(dir.path(), config.clone(), ServerConfig::default()).await;
    let (a, b) = ("x".repeat(500), "y".repeat(600));
    assert_eq!(server.cli("alice", &["SET", "keep", "1"]).await, "OK");
    let out = server.cli("alice", &["MSET", "a", &a, "b", &b]).await;
    assert!(out.starts_with("ERR quota exceeded: "), "{out}");
    assert_eq!(server.cli("alice", &["EXISTS", "a", "b"]).await, "0");
    assert_eq!(server.cli("alice", &["SET", "a", &a]).await, "OK");
    let out = server.cli("alice", &["RPUSH", "l", &b]).await;
    assert!(out.starts_with("ERR quota exceeded: "), "{out}");
    assert_eq!(server.cli("bob", &["SET", "b", &b]).await, "OK");
    server.kill();
    let server = Server::start(dir.path(), config, ServerConfig::default()).await;
    assert_eq!(server.cli("alice", &["KEYS", "*"]).await.lines().count(), 2);
    assert_eq!(server.kv.used_bytes("alice"), 4 + 1 + 1 + 500);
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let dir = dir("pipeline");
    let server = Server::default(dir.path()).await;
    let mut raw = server.connect().await;
    let mut request = format!("AUTH {}\r\n", server.password("alice")).into_bytes();
    let mut expected = b"+OK\r\n".to_vec();
    for i in 0..1500 {
        let value = i.to_string();
        request.extend(
            format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
                value.len()
            )
            .as_bytes(),
        );
        expected.extend(format!("+OK\r\n${}\r\n{value}\r\n", value.len()).as_bytes());
    }
    raw.send(&request).await;
    raw.expect(&expected).await;

    let mut input = Vec::new();
    for i in 0..1000 {
        input.extend(
            format!(
                "*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n${}\r\n{i}\r\n",
                i.to_string().len()
            )
            .as_bytes(),
        );
    }
    let out = cli(
        server.port,
        &server.password("alice"),
        &["--pipe"],
        Some(input),
    )
    .await;
    assert!(out.contains("errors: 0, replies: 1000"), "{out}");
    assert_eq!(server.cli("alice", &["LINDEX", "l", "-1"]).await, "999");
    assert_eq!(server.cli("alice", &["LINDEX", "l", "0"]).await, "0");
}

#[tokio::test]
async fn inline_commands_transactions_and_bad_protocol() {
    let dir = dir("inline");
    let server = Server::default(dir.path()).await;
    let password = server.password("alice");
    let mut raw = server.connect().await;
    raw.send(format!("AUTH {password}\r\nSET a \"b c\"\r\nGET a\r\nSELECT 1\r\n").as_bytes())
        .await;
    raw.expect(b"+OK\r\n+OK\r\n$3\r\nb c\r\n-ERR DB index is out of range\r\n")
        .await;
    raw.send(b"MULTI\r\nINCR n\r\nINCR n\r\nEXEC\r\n").await;
    raw.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n")
        .await;
    raw.send(b"MULTI\r\nINCR n\r\nNOPE\r\nEXEC\r\nGET n\r\n")
        .await;
    raw.expect(b"+OK\r\n+QUEUED\r\n-ERR unknown command 'NOPE', with args beginning with: \r\n-EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n").await;
    raw.send(b"*1\r\n:5\r\n").await;
    raw.expect(b"-ERR Protocol error: expected '$', got ':'\r\n")
        .await;
    assert!(raw.closed().await);

    let mut raw = server.connect().await;
    raw.send(b"*2\r\n$3\r\nGET\r\n$-7\r\n").await;
    raw.expect(b"-ERR Protocol error: invalid bulk length\r\n")
        .await;
    assert!(raw.closed().await);
    assert_eq!(
        server.cli("alice", &["GET", "n"]).await,
        "2",
        "still serving"
    );
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_and_the_server_keeps_serving() {
    let config = ServerConfig {
        max_clients: 5,
        ..ServerConfig::default()
    };
    let dir = dir("flood");
    let server = Server::start(dir.path(), KvConfig::default(), config).await;
    let password = server.password("alice");
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut raw = server.connect().await;
        raw.auth(&password).await;
        held.push(raw);
    }
    for _ in 0..20 {
        let mut extra = server.connect().await;
        extra
            .expect(b"-ERR max number of clients reached\r\n")
            .await;
        assert!(extra.closed().await);
    }
    held[0].send(b"PING\r\n").await;
    held[0].expect(b"+PONG\r\n").await;
    held.pop();
    // The freed slot is given back once the server sees the close.
    let mut served = false;
    for _ in 0..50 {
        if server.cli("alice", &["PING"]).await == "PONG" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_frees_its_slot() {
    let config = ServerConfig {
        max_clients: 1,
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let dir = dir("idle");
    let server = Server::start(dir.path(), KvConfig::default(), config).await;
    let mut idle = server.connect().await;
    idle.auth(&server.password("alice")).await;
    assert!(idle.closed().await);
    assert_eq!(server.cli("alice", &["PING"]).await, "PONG");
}

#[tokio::test]
async fn repeated_wrong_passwords_are_slowed_then_disconnected() {
    let config = ServerConfig {
        auth_failure_delay: Duration::from_millis(50),
        max_auth_failures: 4,
        ..ServerConfig::default()
    };
    let dir = dir("guess");
    let server = Server::start(dir.path(), KvConfig::default(), config).await;
    let wrong = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    let mut raw = server.connect().await;
    let mut waits = Vec::new();
    for _ in 0..4 {
        let started = std::time::Instant::now();
        raw.send(b"AUTH guess\r\n").await;
        raw.expect(wrong).await;
        waits.push(started.elapsed());
    }
    assert!(raw.closed().await, "closed after the fourth failure");
    // 50, 100, 200, 400 ms: each failure waits twice as long as the one before.
    for (i, wait) in waits.iter().enumerate() {
        assert!(*wait >= Duration::from_millis(50 << i), "{waits:?}");
    }

    // Pipelined guesses are no faster: of ten sent at once, four are answered as late, then
    // the connection is closed.
    let mut raw = server.connect().await;
    let started = std::time::Instant::now();
    raw.send(&b"AUTH guess\r\n".repeat(10)).await;
    raw.expect(&wrong.repeat(4)).await;
    assert!(started.elapsed() >= Duration::from_millis(750));
    assert!(raw.closed().await);

    // The right password on a new connection still opens the namespace.
    let mut raw = server.connect().await;
    raw.auth(&server.password("alice")).await;
    raw.send(b"PING\r\n").await;
    raw.expect(b"+PONG\r\n").await;
}
