//! Clients that stop sending are disconnected in time: the API and the S3 endpoint close a
//! connection whose headers or body do not arrive, or that idles between requests.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Server;

/// Longest a test waits for a close the server owes after a one-second read timeout.
const PATIENCE: Duration = Duration::from_secs(10);

/// Sends `bytes` on a new connection to `address` and reads until the server closes it:
/// what it answered, and how long after the send the close came.
async fn until_closed(address: &str, bytes: &[u8]) -> (String, Duration) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        read.is_ok(),
        "{address}: still open after {PATIENCE:?}: {answer}"
    );
    (answer, started.elapsed())
}

#[tokio::test]
async fn connections_whose_headers_or_body_do_not_arrive_are_closed() {
    let server = Server::start_with(&["--read-timeout", "1"]);
    let api = server.api_host.trim_start_matches("http://").to_string();
    let s3 = server.s3_address();
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&server.auth)
    };

    for address in [api.as_str(), s3.as_str()] {
        // Headers begun and never finished.
        let (answer, took) = until_closed(address, b"GET / HTTP/1.1\r\nHost: x\r\n").await;
        assert!(
            took >= Duration::from_millis(900),
            "{address}: {took:?} {answer}"
        );

        // A kept-alive connection left idle after its request.
        let (answer, took) = until_closed(address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 "), "{address}: {answer}");
        assert!(took >= Duration::from_millis(900), "{address}: {took:?}");
    }

    // A body announced and never sent, where the server reads it: an action's definition
    // on the API, an (unauthenticated) browser form upload on the S3 endpoint.
    let put = format!(
        "PUT /api/v1/namespaces/_/actions/x HTTP/1.1\r\nHost: x\r\n\
         Authorization: Basic {basic}\r\nContent-Type: application/json\r\n\
         Content-Length: 10\r\n\r\n"
    );
    let form = "POST /bucket HTTP/1.1\r\nHost: x\r\n\
                Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100\r\n\r\n";
    for (address, request) in [(api.as_str(), put.as_str()), (s3.as_str(), form)] {
        let (answer, took) = until_closed(address, request.as_bytes()).await;
        assert!(
            took >= Duration::from_millis(900),
            "{address}: {took:?} {answer}"
        );
    }

    // Requests that arrive in time are served as ever.
    let (status, _) = server.get("namespaces").await;
    assert_eq!(status, 200);
}
