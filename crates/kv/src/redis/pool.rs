//! Upstream connections: a fixed set of lanes, each one TCP connection to Redis that carries
//! the requests queued on it in order, pipelined.
//!
//! A namespace always uses the same lane, and a request is queued when [`Pool::send`] is
//! called (not when its reply is awaited): so a namespace's commands reach Redis in the order
//! they were handed over, which is the ordering [`crate::KvStore`] promises. Redis answers a
//! connection's requests in order, so replies are matched to requests by position.
//!
//! A lane connects on its first request and again after a failure; the requests in flight
//! when a connection fails get an error reply, never a silent retry (they may have run).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::command::PERSISTENCE_FAILED;
use crate::resp::{encode_request, parse_reply, Bytes, Reply};

/// Where Redis is and how to log in, from a `redis://[[user]:password@]host[:port][/db]` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("'{url}' is not a redis:// URL"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth), rest),
            None => (None, rest),
        };
        let (address, db) = match rest.split_once('/') {
            Some((address, "")) => (address, 0),
            Some((address, db)) => (
                address,
                db.parse()
                    .map_err(|_| format!("'{db}' in '{url}' is not a database number"))?,
            ),
            None => (rest, 0),
        };
        // `[v6]:port` or `host:port`, the port optional.
        let (host, port) = match address.strip_prefix('[') {
            Some(v6) => v6
                .split_once(']')
                .map(|(host, port)| (host, port.strip_prefix(':')))
                .ok_or_else(|| format!("'{url}' has an unclosed '['"))?,
            None => match address.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (address, None),
            },
        };
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| format!("'{port}' in '{url}' is not a port"))?,
            None => 6379,
        };
        if host.is_empty() {
            return Err(format!("'{url}' names no host"));
        }
        let (user, password) = match auth.map(|a| a.split_once(':')) {
            None => (None, None),
            Some(None) => (None, auth.map(str::to_owned)),
            Some(Some((user, password))) => (
                (!user.is_empty()).then(|| user.to_owned()),
                Some(password.to_owned()),
            ),
        };
        Ok(Target {
            host: host.to_owned(),
            port,
            user,
            password,
            db,
        })
    }
}

impl std::fmt::Display for Target {
    /// The address only: never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.db)
    }
}

/// How long a connection may take to open, so that requests queued behind an unreachable
/// Redis fail instead of waiting for the system's TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a reply may take. Past it the caller gets an error; the request may still run,
/// and its late reply is matched to it and dropped (matching is by position).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// One request and where its reply goes.
struct Job {
    request: Vec<u8>,
    reply: oneshot::Sender<Reply>,
}

pub struct Pool {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    target: Arc<Target>,
}

impl Pool {
    /// Starts `lanes` lanes (at least one), each loading `script` on every connection it
    /// makes. Needs a tokio runtime; the lanes end when the pool is dropped.
    pub fn start(target: Target, script: &'static str, lanes: usize) -> Pool {
        let target = Arc::new(target);
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(lane(target.clone(), script, rx));
                tx
            })
            .collect();
        Pool { lanes, target }
    }

    /// Queues `request` (one encoded command) on `namespace`'s lane now; the receiver gets
    /// its reply, or an error reply when the connection failed.
    pub fn send(
        &self,
        namespace: &str,
        request: Vec<u8>,
    ) -> impl std::future::Future<Output = Reply> {
        let mut hasher = DefaultHasher::new();
        namespace.hash(&mut hasher);
        let lane = &self.lanes[hasher.finish() as usize % self.lanes.len()];
        let (tx, rx) = oneshot::channel();
        // A closed lane (the runtime is shutting down) drops the job: the receiver says so.
        let _ = lane.send(Job { request, reply: tx });
        let target = self.target.clone();
        async move {
            match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(_)) => failure(&target, "the connection was lost before a reply"),
                Err(_) => failure(&target, format!("no reply within {REPLY_TIMEOUT:?}")),
            }
        }
    }
}

fn failure(target: &Target, what: impl std::fmt::Display) -> Reply {
    Reply::err(format!("{PERSISTENCE_FAILED} failed: {target}: {what}"))
}

/// One lane: connects when there is work, serves the connection until it fails, again.
async fn lane(target: Arc<Target>, script: &'static str, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = jobs.recv().await {
        match connect(&target, script).await {
            Ok((stream, _)) => serve(stream, first, &mut jobs).await,
            Err(e) => {
                tracing::warn!(redis = %target, error = %e, "cannot connect to redis");
                // Everything queued meanwhile fails too, rather than waiting for a retry.
                let _ = first.reply.send(failure(&target, &e));
                while let Ok(job) = jobs.try_recv() {
                    let _ = job.reply.send(failure(&target, &e));
                }
            }
        }
    }
}

/// Opens a connection: AUTH, SELECT and SCRIPT LOAD, one at a time; returns it with the
/// script's SHA1 (what EVALSHA names it by).
/// Why a Redis in cluster mode is refused.
const CLUSTER_MODE: &str =
    "this Redis runs in cluster mode (Redis Cluster), which Wisp's key-value \
     backend does not support yet: give it a single primary (replicas are fine)";

pub async fn connect(target: &Target, script: &str) -> Result<(TcpStream, String), String> {
    let connecting = TcpStream::connect((target.host.as_str(), target.port));
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("no answer within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut hello: Vec<Vec<Bytes>> = Vec::new();
    if let Some(password) = &target.password {
        let mut auth = vec![b"AUTH".to_vec()];
        auth.extend(target.user.iter().map(|u| u.as_bytes().to_vec()));
        auth.push(password.as_bytes().to_vec());
        hello.push(auth);
    }
    if target.db != 0 {
        hello.push(vec![b"SELECT".to_vec(), target.db.to_string().into_bytes()]);
    }
    // A Redis Cluster node would answer MOVED for other slots, which this client does not
    // follow: refused at start rather than failing some namespaces later.
    hello.push(vec![b"INFO".to_vec(), b"cluster".to_vec()]);
    hello.push(vec![
        b"SCRIPT".to_vec(),
        b"LOAD".to_vec(),
        script.as_bytes().to_vec(),
    ]);
    let mut sha = String::new();
    for command in hello {
        let mut out = Vec::new();
        encode_request(&command, &mut out);
        stream.write_all(&out).await.map_err(|e| e.to_string())?;
        match read_one(&mut stream).await? {
            Reply::Error(e) => return Err(e),
            Reply::Bulk(Some(info)) if command[0] == b"INFO" => {
                let cluster_mode = String::from_utf8_lossy(&info).contains("cluster_enabled:1");
                if cluster_mode {
                    return Err(CLUSTER_MODE.into());
                }
            }
            Reply::Bulk(Some(loaded)) => sha = String::from_utf8_lossy(&loaded).into_owned(),
            _ => {}
        }
    }
    Ok((stream, sha))
}

async fn read_one(stream: &mut TcpStream) -> Result<Reply, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((reply, _)) = parse_reply(&buf).map_err(|e| e.to_string())? {
            return Ok(reply);
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("redis closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Most bytes of requests written at once: what is queued goes out together (pipelining).
const MAX_WRITE: usize = 1 << 20;

/// Writes queued requests as they come, while a reader task matches replies to them; returns
/// when either side fails (the jobs in flight get error replies as their senders drop).
async fn serve(stream: TcpStream, first: Job, jobs: &mut mpsc::UnboundedReceiver<Job>) {
    let (read, mut write) = stream.into_split();
    let (waiting_tx, waiting_rx) = mpsc::unbounded_channel();
    let mut reader = tokio::spawn(read_replies(read, waiting_rx));
    let mut next = Some(first);
    let mut out = Vec::new();
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
                _ = &mut reader => return,
            },
        };
        out.clear();
        let mut job = Some(job);
        while let Some(Job { request, reply }) = job.take() {
            // Registered before it is written, so the reader knows whom the reply is for; a
            // reader gone means a dead connection: the job fails unsent (its sender drops).
            if waiting_tx.send(reply).is_err() {
                break;
            }
            out.extend_from_slice(&request);
            if out.len() < MAX_WRITE {
                job = jobs.try_recv().ok();
            }
        }
        if out.is_empty() || write.write_all(&out).await.is_err() {
            break;
        }
    }
    reader.abort();
}

async fn read_replies(
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut waiting: mpsc::UnboundedReceiver<oneshot::Sender<Reply>>,
) {
    let mut buf = Vec::with_capacity(16 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let mut used = 0;
        loop {
            match parse_reply(&buf[used..]) {
                Ok(Some((reply, len))) => {
                    used += len;
                    // Someone ran SCRIPT FLUSH: this reply says so, and a new connection
                    // loads the script again for the next ones.
                    let reload = matches!(&reply, Reply::Error(e) if e.starts_with("NOSCRIPT"));
                    match waiting.recv().await {
                        // The caller may have stopped waiting: nothing to do.
                        Some(to) => drop(to.send(reply)),
                        None => return,
                    }
                    if reload {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed reply from redis");
                    return;
                }
            }
        }
        buf.drain(..used);
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn urls_name_host_port_credentials_and_database() {
        let t = |url: &str| Target::parse(url).unwrap();
        assert_eq!(
            t("redis://127.0.0.1:6379"),
            Target {
                host: "127.0.0.1".into(),
                port: 6379,
                user: None,
                password: None,
                db: 0
            }
        );
        let full = t("redis://app:s3cret@cache.local:7000/2");
        assert_eq!(
            (full.user.as_deref(), full.password.as_deref(), full.db),
            (Some("app"), Some("s3cret"), 2)
        );
        assert_eq!(full.to_string(), "redis://cache.local:7000/2");
        let pw = t("redis://:pw@h");
        assert_eq!(
            (pw.user, pw.password.as_deref(), pw.port),
            (None, Some("pw"), 6379)
        );
        assert_eq!(t("redis://[::1]:6380").host, "::1");
        assert!(Target::parse("http://h").is_err());
        assert!(Target::parse("redis://h:port").is_err());
        assert!(Target::parse("redis://h/x").is_err());
    }
}
