//! The server's side of an isolated network: tasks that accept what a sandbox's functions open
//! inside their namespace and carry it to the host.
//!
//! - Connections to the platform's endpoints (API, key-value, S3), which listen inside the
//!   namespace at their own addresses, go to the same address on the host.
//! - Every other TCP connection arrives redirected (see [`crate::redirect`]); its original
//!   destination is read from conntrack and, if the [`Policy`] permits it, the server connects
//!   there from the host. A refused one is reset, so the function sees `ECONNRESET` at once.
//! - DNS queries are relayed to the operator's resolvers; with none answering, the function
//!   gets SERVFAIL rather than a wait.
//!
//! A sandbox holds at most [`MAX_CONNECTIONS`] connections through the server at once, and
//! [`MAX_QUERIES`] queries, so a function cannot exhaust the server's file descriptors.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::policy::Policy;

/// Connections one sandbox may hold open through the server.
const MAX_CONNECTIONS: usize = 256;
/// DNS queries one sandbox may have in flight.
const MAX_QUERIES: usize = 32;
/// How long connecting to an outside destination may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a resolver gets to answer one query.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(3);

/// The listening sockets of one sandbox's network, made inside its namespace.
pub(crate) struct Listeners {
    /// Each platform endpoint's address and the socket listening at it.
    pub(crate) endpoints: Vec<(SocketAddr, std::net::TcpListener)>,
    /// Where redirected connections and DNS queries arrive, when outbound traffic is on.
    pub(crate) outbound: Option<(std::net::TcpListener, std::net::UdpSocket)>,
}

/// The tasks serving a sandbox's network; they end when dropped.
#[derive(Default)]
pub struct Forwarders(Vec<tokio::task::JoinHandle<()>>);

impl Forwarders {
    /// Starts serving `listeners` on `runtime`.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        listeners: Listeners,
        policy: Arc<Policy>,
    ) -> std::io::Result<Forwarders> {
        let _entered = runtime.enter();
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut tasks = Vec::new();
        for (target, listener) in listeners.endpoints {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.push(runtime.spawn(accept(listener, connections.clone(), move |_| Some(target))));
        }
        if let Some((listener, dns)) = listeners.outbound {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let decide = policy.clone();
            tasks.push(runtime.spawn(accept(listener, connections, move |inbound| {
                let decision = original_destination(inbound)
                    .ok()
                    .filter(|destination| decide.permits(*destination));
                if decision.is_none() {
                    tracing::debug!("an outbound connection was refused by the policy");
                }
                decision
            })));
            dns.set_nonblocking(true)?;
            let dns = tokio::net::UdpSocket::from_std(dns)?;
            tasks.push(runtime.spawn(relay_dns(Arc::new(dns), policy)));
        }
        Ok(Forwarders(tasks))
    }
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Accepts on `listener` and copies each connection to and from where `route` says, or
/// resets it when `route` says nowhere.
async fn accept(
    listener: tokio::net::TcpListener,
    connections: Arc<Semaphore>,
    route: impl Fn(&tokio::net::TcpStream) -> Option<SocketAddr>,
) {
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok((mut inbound, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin on the error.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let target = route(&inbound);
        tokio::spawn(async move {
            let _permit = permit;
            let outbound = match target {
                Some(target) => {
                    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(target))
                        .await
                        .ok()
                        .and_then(Result::ok)
                }
                None => None,
            };
            let Some(mut outbound) = outbound else {
                reset(inbound);
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            let _ = inbound.shutdown().await;
        });
    }
}

/// Closes `stream` with a reset, so the peer learns at once that nothing is there.
fn reset(stream: tokio::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid option of the right size on a socket we own.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}

/// Where a redirected connection was headed, from conntrack (`SO_ORIGINAL_DST`).
pub(crate) fn original_destination(stream: &impl AsRawFd) -> std::io::Result<SocketAddr> {
    const SO_ORIGINAL_DST: libc::c_int = 80;
    // SAFETY: a zeroed sockaddr_in is a valid out-parameter of the size given.
    let address = unsafe {
        let mut address: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_IP,
            SO_ORIGINAL_DST,
            (&mut address as *mut libc::sockaddr_in).cast(),
            &mut len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        address
    };
    Ok(SocketAddr::new(
        std::net::Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr)).into(),
        u16::from_be(address.sin_port),
    ))
}

/// Relays each query arriving on `socket` to the resolvers and the answer back.
async fn relay_dns(socket: Arc<tokio::net::UdpSocket>, policy: Arc<Policy>) {
    let queries = Arc::new(Semaphore::new(MAX_QUERIES));
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, client)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Beyond the in-flight limit a query is dropped, as a congested resolver would.
        let Ok(permit) = queries.clone().try_acquire_owned() else {
            continue;
        };
        let query = buf[..len].to_vec();
        let socket = socket.clone();
        let resolvers = policy.outbound.resolvers.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let answer = match resolve(&query, &resolvers).await {
                Some(answer) => answer,
                None => servfail(&query),
            };
            if !answer.is_empty() {
                let _ = socket.send_to(&answer, client).await;
            }
        });
    }
}

/// The first resolver's answer to `query`, trying each in turn.
async fn resolve(query: &[u8], resolvers: &[SocketAddr]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    for resolver in resolvers {
        let local: SocketAddr = if resolver.is_ipv4() {
            "0.0.0.0:0".parse().expect("an address")
        } else {
            "[::]:0".parse().expect("an address")
        };
        let Ok(upstream) = tokio::net::UdpSocket::bind(local).await else {
            continue;
        };
        if upstream.connect(resolver).await.is_err() || upstream.send(query).await.is_err() {
            continue;
        }
        let mut answer = vec![0u8; 4096];
        let deadline = tokio::time::Instant::now() + RESOLVER_TIMEOUT;
        while let Ok(Ok(len)) = tokio::time::timeout_at(deadline, upstream.recv(&mut answer)).await
        {
            // The answer to this query carries its id.
            if len >= 12 && answer[..2] == query[..2] {
                answer.truncate(len);
                return Some(answer);
            }
        }
    }
    None
}

/// A SERVFAIL answer to `query` (its id and question, the response bit and code 2); nothing
/// for what is not a DNS query.
fn servfail(query: &[u8]) -> Vec<u8> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return Vec::new();
    }
    let mut answer = query.to_vec();
    answer[2] = 0x80 | (query[2] & 0x79); // QR, the opcode and RD kept
    answer[3] = 0x02; // SERVFAIL
    answer[6..12].fill(0); // no answer, authority or additional records
                           // Only the question section stays: drop what followed it (EDNS and such).
    answer.truncate(question_end(query).unwrap_or(12));
    if answer.len() == 12 {
        answer[4..6].fill(0);
    }
    answer
}

/// Where the question section of `query` ends, if it holds one well-formed question.
fn question_end(query: &[u8]) -> Option<usize> {
    if u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += len;
    }
    let end = at + 4;
    (end <= query.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `example.test` A, id 0xbeef, recursion desired, with an EDNS record.
    fn query() -> Vec<u8> {
        let mut q = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        for label in ["example", "test"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
        q
    }

    #[test]
    fn servfail_answers_the_question_asked() {
        let q = query();
        let a = servfail(&q);
        assert_eq!(&a[..2], &[0xbe, 0xef], "the same id");
        assert_eq!(a[2], 0x81, "a response, recursion desired kept");
        assert_eq!(a[3] & 0x0f, 2, "SERVFAIL");
        assert_eq!(&a[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&a[12..], &q[12..q.len() - 11], "the question, without EDNS");
        assert!(servfail(&a).is_empty(), "a response is not answered");
        assert!(servfail(b"short").is_empty());
    }

    #[tokio::test]
    async fn queries_reach_the_first_resolver_that_answers() {
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let answering = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let resolvers = [
            silent.local_addr().unwrap(),
            answering.local_addr().unwrap(),
        ];
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (len, from) = answering.recv_from(&mut buf).await.unwrap();
            let mut answer = buf[..len].to_vec();
            answer[2] |= 0x80;
            answering.send_to(&answer, from).await.unwrap();
        });
        let q = query();
        let answer = resolve(&q, &resolvers).await.expect("an answer");
        assert_eq!(&answer[..2], &q[..2]);
        assert_eq!(answer[2] & 0x80, 0x80);
        server.await.unwrap();
        drop(silent);
    }
}
