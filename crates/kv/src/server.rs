//! The RESP2 endpoint: a TCP listener, one task per connection.
//!
//! A connection must `AUTH <password>` (or `AUTH default <password>`) first; the password
//! names the namespace whose keyspace every later command uses. A failed AUTH is answered
//! late, later at each further failure, and a connection that fails too often is closed, so
//! guessing passwords is slow however the guesses are pipelined. Requests are parsed as they
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
use crate::{BoxFuture, KvStore, Passwords};

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Connections served at once; the next one is told so and closed.
    pub max_clients: usize,
    /// A connection silent this long is closed, so clients that never QUIT (Nimbella's SDK
    /// opens a connection per `redis()` call and keeps it) do not hold slots forever. Redis
    /// clients reconnect on their own.
    pub idle_timeout: Duration,
    /// How late the first failed AUTH of a connection is answered; each further failure
    /// waits twice as long as the one before.
    pub auth_failure_delay: Duration,
    /// Failed AUTHs one connection may make: the last is answered, then the connection closed.
    pub max_auth_failures: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_clients: 1024,
            idle_timeout: Duration::from_secs(300),
            // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s: five guesses take three seconds, then a new
            // connection (and a slot of `max_clients`) is needed.
            auth_failure_delay: Duration::from_millis(100),
            max_auth_failures: 5,
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
                    auth_failure_delay: config.auth_failure_delay,
                    max_auth_failures: config.max_auth_failures,
                    failed_auths: 0,
                    owed_delay: Duration::ZERO,
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
    auth_failure_delay: Duration,
    max_auth_failures: u32,
    /// Failed AUTHs so far on this connection.
    failed_auths: u32,
    /// How long to wait before the next replies are written: what failed AUTHs cost.
    owed_delay: Duration,
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

/// Replies awaited before the next read: a burst of pipelined commands is applied in order
/// as it is parsed, and their replies wait for the same commit.
const MAX_IN_FLIGHT: usize = 1024;

impl Session {
    async fn run(mut self, mut stream: TcpStream) {
        let store = self.store.clone();
        let mut buf = Vec::with_capacity(16 << 10);
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        // Whether the buffer may hold complete requests a round left (past MAX_IN_FLIGHT).
        let mut more = false;
        loop {
            if !more {
                let read = tokio::time::timeout(self.idle_timeout, stream.read(&mut chunk));
                let n = match read.await {
                    Ok(Ok(0) | Err(_)) => return,
                    Ok(Ok(n)) => n,
                    Err(_) => {
                        let _ = stream.shutdown().await;
                        return;
                    }
                };
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut used = 0;
            let mut then = Then::Continue;
            let mut replies: Vec<BoxFuture<'_, Reply>> = Vec::new();
            while then == Then::Continue && replies.len() < MAX_IN_FLIGHT {
                match parse_request(&buf[used..]) {
                    Ok(Parsed::Incomplete) => break,
                    Ok(Parsed::Request(args, len)) => {
                        used += len;
                        if args.is_empty() {
                            continue;
                        }
                        // A backend takes a command's place in line when it is called, so
                        // calling in order is enough; the futures only wait for durability.
                        replies.push(match self.step(args) {
                            Step::Reply(reply, next) => {
                                then = next;
                                Box::pin(std::future::ready(reply))
                            }
                            Step::Execute(namespace, command) => store.execute(&namespace, command),
                            Step::Transaction(namespace, commands) => {
                                store.transaction(&namespace, commands)
                            }
                        });
                    }
                    Err(e) => {
                        replies.push(Box::pin(std::future::ready(e.reply())));
                        then = Then::Close;
                    }
                }
            }
            more = replies.len() >= MAX_IN_FLIGHT;
            for reply in replies {
                reply.await.encode(&mut out);
            }
            buf.drain(..used);
            if then == Then::Continue && buf.len() > MAX_BUFFERED {
                Reply::err("Protocol error: too big request").encode(&mut out);
                then = Then::Close;
            }
            if !self.owed_delay.is_zero() {
                tokio::time::sleep(std::mem::take(&mut self.owed_delay)).await;
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

    /// What a request needs: a reply the connection gives itself (AUTH, MULTI, errors ...),
    /// or a call to the store.
    fn step(&mut self, args: Vec<Bytes>) -> Step {
        let is_auth = args[0].eq_ignore_ascii_case(b"auth");
        let is_quit = args[0].eq_ignore_ascii_case(b"quit");
        if self.namespace.is_none() && !is_auth && !is_quit {
            return Step::reply(Reply::Error("NOAUTH Authentication required.".into()));
        }
        let request = match Request::parse(args) {
            Ok(request) => request,
            Err(e) => {
                if let Some(queue) = &mut self.multi {
                    *queue = None;
                }
                return Step::reply(e);
            }
        };
        // Unauthenticated, only AUTH and QUIT get here.
        let namespace = match (&request, &self.namespace) {
            (Request::Connection(Connection::Auth { .. }), _) => String::new(),
            (_, Some(namespace)) => namespace.clone(),
            (_, None) => return Step::Reply(Reply::ok(), Then::Close),
        };
        match request {
            Request::Data(command) => match &mut self.multi {
                Some(Some(queue)) => {
                    queue.push(command);
                    Step::reply(Reply::Simple("QUEUED".into()))
                }
                Some(None) => Step::reply(Reply::Simple("QUEUED".into())),
                None => Step::Execute(namespace, command),
            },
            Request::Connection(c) => self.connection(namespace, c),
        }
    }

    fn auth(&mut self, user: Option<Bytes>, password: Bytes) -> Step {
        let default_user = user.is_none_or(|u| u == b"default");
        let namespace = std::str::from_utf8(&password)
            .ok()
            .and_then(|p| self.passwords.namespace_for(p));
        if let Some(namespace) = namespace.filter(|_| default_user) {
            self.namespace = Some(namespace);
            return Step::reply(Reply::ok());
        }
        self.owed_delay += self
            .auth_failure_delay
            .saturating_mul(1 << self.failed_auths.min(16));
        self.failed_auths += 1;
        let wrong =
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into());
        if self.failed_auths >= self.max_auth_failures {
            return Step::Reply(wrong, Then::Close);
        }
        Step::reply(wrong)
    }

    fn connection(&mut self, namespace: String, command: Connection) -> Step {
        Step::reply(match command {
            Connection::Auth { user, password } => return self.auth(user, password),
            Connection::Quit => return Step::Reply(Reply::ok(), Then::Close),
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
                Some(Some(commands)) => return Step::Transaction(namespace, commands),
            },
        })
    }
}

enum Step {
    Reply(Reply, Then),
    Execute(String, Command),
    Transaction(String, Vec<Command>),
}

impl Step {
    fn reply(reply: Reply) -> Step {
        Step::Reply(reply, Then::Continue)
    }
}
