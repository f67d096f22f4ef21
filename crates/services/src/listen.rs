//! Binding the platform's listeners, patiently: right after a crash, a sandbox the previous
//! server was starting can hold a copy of its listening sockets for a moment (a cloned child
//! has every descriptor until it executes, and it exits once it sees its parent gone), so a
//! restart that finds its address in use retries briefly instead of running without the
//! service.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

/// How long an address in use is retried.
const PATIENCE: Duration = Duration::from_secs(3);
const PAUSE: Duration = Duration::from_millis(50);

/// Binds `address`, retrying for a few seconds while it is in use.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let until = Instant::now() + PATIENCE;
    loop {
        match TcpListener::bind(address).await {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < until => {
                tokio::time::sleep(PAUSE).await;
            }
            bound => return bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_freed_meanwhile_is_bound() {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = first.local_addr().unwrap();
        let freed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(first);
        });

        let second = bind(address).await.expect("bound once the first let go");

        assert_eq!(second.local_addr().unwrap(), address);
        freed.await.unwrap();
    }
}
