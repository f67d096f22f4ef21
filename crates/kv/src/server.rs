//! The RESP2 endpoint: a TCP listener, one task per connection.
//!
//! A connection must `AUTH <password>` (or `AUTH default <password>`) first; the password
//! names the namespace whose keyspace every later command uses. Requests are parsed as they
//! arrive and answered in order; the replies to everything that arrived together are written
//! together (pipelining). Malformed protocol is answered with an error, then the connection is
//! closed.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::command::{Command, Connection, Request};
use crate::resp::{parse_request, Bytes, Parsed, Reply, MAX_BULK};
use crate::{KvStore, Passwords};

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Connections served at once; the next one is told so and closed.
    pub max_clients: usize,
    /// A connection silent this long is closed, so clients that never QUIT (Nimbella's SDK
    /// opens a connection per `redis()` call and keeps it) do not hold slots forever. Redis
    /// clients reconnect on their own.
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_clients: 1024,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Unparsed bytes one connection may hold: one largest request and some change.
const MAX_BUFFERED: usize = MAX_BULK + (1 << 20);

const INFO: &str = "# Server\r\nredis_version:6.2.0\r\nredis_mode:standalone\r\n\
                    wisp_kv:1\r\n# Persistence\r\nloading:0\r\n";

/// Serves connections from `listener` until it fails; drop the future to stop accepting
/// (connections already open run until their client leaves).
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn KvStore>,
    passwords: Arc<Passwords>,
    config: ServerConfig,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_clients));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "kv accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let session = Session {
                    idle_timeout: config.idle_timeout,
                    store: store.clone(),
                    passwords: passwords.clone(),
                    namespace: None,
                    name: None,
                    multi: None,
                };
                tokio::spawn(async move {
                    session.run(stream).await;
                    drop(slot);
                });
            }
            Err(_) => {
                tokio::spawn(refuse(stream));
            }
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
    let _ = stream.shutdown().await;
}

struct Session {
    idle_timeout: Duration,
    store: Arc<dyn KvStore>,
    passwords: Arc<Passwords>,
    /// Set by a successful AUTH.
    namespace: Option<String>,
    name: Option<Bytes>,
    /// Inside MULTI: the queued commands, or `None` once one was refused (EXEC aborts).
    multi: Option<Option<Vec<Command>>>,
}

/// What to do after a reply.
#[derive(PartialEq)]
enum Then {
    Continue,
    Close,
}

impl Session {
    async fn run(mut self, mut stream: TcpStream) {
        let mut buf = Vec::with_capacity(16 << 10);
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            let n = match tokio::time::timeout(self.idle_timeout, stream.read(&mut chunk)).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => n,
                Err(_) => {
                    let _ = stream.shutdown().await;
                    return;
                }
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut used = 0;
            let mut then = Then::Continue;
            while then == Then::Continue {
                match parse_request(&buf[used..]) {
                    Ok(Parsed::Incomplete) => break,
                    Ok(Parsed::Request(args, len)) => {
                        used += len;
                        if args.is_empty() {
                            continue;
                        }
                        let reply;
                        (reply, then) = self.handle(args).await;
                        reply.encode(&mut out);
                    }
                    Err(e) => {
                        e.reply().encode(&mut out);
                        then = Then::Close;
                    }
                }
            }
            buf.drain(..used);
            if then == Then::Continue && buf.len() > MAX_BUFFERED {
                Reply::err("Protocol error: too big request").encode(&mut out);
                then = Then::Close;
            }
            if !out.is_empty() && stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
            if then == Then::Close {
                let _ = stream.shutdown().await;
                return;
            }
        }
    }

    async fn handle(&mut self, args: Vec<Bytes>) -> (Reply, Then) {
        let is_auth = args[0].eq_ignore_ascii_case(b"auth");
        let is_quit = args[0].eq_ignore_ascii_case(b"quit");
        if self.namespace.is_none() && !is_auth && !is_quit {
            return (
                Reply::Error("NOAUTH Authentication required.".into()),
                Then::Continue,
            );
        }
        let request = match Request::parse(args) {
            Ok(request) => request,
            Err(e) => {
                if let Some(queue) = &mut self.multi {
                    *queue = None;
                }
                return (e, Then::Continue);
            }
        };
        // Unauthenticated, only AUTH and QUIT get here.
        let namespace = match (&request, &self.namespace) {
            (Request::Connection(Connection::Auth { .. }), _) => String::new(),
            (_, Some(namespace)) => namespace.clone(),
            (_, None) => return (Reply::ok(), Then::Close),
        };
        match request {
            Request::Data(command) => match &mut self.multi {
                Some(Some(queue)) => {
                    queue.push(command);
                    (Reply::Simple("QUEUED".into()), Then::Continue)
                }
                Some(None) => (Reply::Simple("QUEUED".into()), Then::Continue),
                None => (
                    self.store.execute(&namespace, command).await,
                    Then::Continue,
                ),
            },
            Request::Connection(c) => self.connection(&namespace, c).await,
        }
    }

    fn auth(&mut self, user: Option<Bytes>, password: Bytes) -> Reply {
        let default_user = user.is_none_or(|u| u == b"default");
        let namespace = std::str::from_utf8(&password)
            .ok()
            .and_then(|p| self.passwords.namespace_for(p));
        match namespace.filter(|_| default_user) {
            Some(namespace) => {
                self.namespace = Some(namespace);
                Reply::ok()
            }
            None => {
                Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
            }
        }
    }

    async fn connection(&mut self, namespace: &str, command: Connection) -> (Reply, Then) {
        let reply = match command {
            Connection::Auth { user, password } => self.auth(user, password),
            Connection::Quit => return (Reply::ok(), Then::Close),
            Connection::Ping(None) => Reply::Simple("PONG".into()),
            Connection::Ping(Some(message)) | Connection::Echo(message) => Reply::bulk(message),
            Connection::Select(0) => Reply::ok(),
            Connection::Select(_) => Reply::err("DB index is out of range"),
            Connection::Info => Reply::bulk(INFO),
            Connection::CommandDocs => Reply::array([]),
            Connection::ClientSetName(name) => {
                self.name = (!name.is_empty()).then_some(name);
                Reply::ok()
            }
            Connection::ClientGetName => Reply::Bulk(self.name.clone()),
            Connection::ClientOk => Reply::ok(),
            Connection::Multi if self.multi.is_some() => {
                Reply::err("MULTI calls can not be nested")
            }
            Connection::Multi => {
                self.multi = Some(Some(Vec::new()));
                Reply::ok()
            }
            Connection::Discard => match self.multi.take() {
                Some(_) => Reply::ok(),
                None => Reply::err("DISCARD without MULTI"),
            },
            Connection::Exec => match self.multi.take() {
                None => Reply::err("EXEC without MULTI"),
                Some(None) => Reply::Error(
                    "EXECABORT Transaction discarded because of previous errors.".into(),
                ),
                Some(Some(commands)) => self.store.transaction(namespace, commands).await,
            },
        };
        (reply, Then::Continue)
    }
}
