//! `wisp serve --objects-backend s3://...`: the namespaces' objects in an S3 bucket (moto's
//! server, or `WISP_TEST_S3`), each test in a bucket of its own. Users see what they see on the
//! local backend, through the REST routes and through the S3 endpoint functions use, and two
//! servers on one bucket, as a cluster's would be, serve the same objects under one quota.

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::s3::{run, sdk_action, AWS_ACTION};
use crate::support::{error_message, Server};

const OBJECTS: &str = "namespaces/_/objects";

/// The test S3 server, `http://host:port`: scripts/test.sh starts moto there.
pub fn endpoint() -> String {
    std::env::var("WISP_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// A bare request to the S3 server, unsigned (moto takes it): the raw response.
async fn s3_request(method: &str, path: &str) -> String {
    let endpoint = endpoint();
    let address = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint");
    let mut connection = tokio::net::TcpStream::connect(address)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no S3 server answers at {endpoint} (the full test tier needs one): {e}: run \
                 scripts/test.sh, which starts moto's"
            )
        });
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    connection.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    connection.read_to_string(&mut response).await.unwrap();
    response
}

/// A fresh bucket, `wisp-it-<random>`; moto keeps it in memory until it stops.
pub async fn bucket() -> String {
    let name = format!("wisp-it-{:016x}", rand::random::<u64>());
    let response = s3_request("PUT", &format!("/{name}")).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    name
}

/// A server keeping its objects in `bucket` under the prefix `cluster`, with `extra` flags.
fn serve_on(bucket: &str, extra: &[&str]) -> Server {
    let backend = format!("s3://{bucket}/cluster");
    let mut flags = vec!["--objects-backend", backend.as_str()];
    flags.extend_from_slice(extra);
    let endpoint = endpoint();
    Server::start_with_env(
        &flags,
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "wisp-it"),
            ("AWS_SECRET_ACCESS_KEY", "wisp-it-secret"),
            ("AWS_REGION", "us-east-1"),
        ],
    )
}

async fn put_bytes(server: &Server, key: &str, body: Vec<u8>) -> (u16, Value) {
    let request = server.request(Method::PUT, &format!("{OBJECTS}/{key}"));
    server.send(request.body(body)).await
}

#[tokio::test]
async fn two_servers_on_one_bucket_serve_the_same_objects_under_one_quota() {
    let bucket = bucket().await;
    let a = serve_on(&bucket, &["--objects-quota-mb", "1"]);
    let b = serve_on(&bucket, &["--objects-quota-mb", "1"]);

    let (status, put) = a
        .send(
            a.request(Method::PUT, &format!("{OBJECTS}/docs/readme.txt"))
                .header("content-type", "text/markdown")
                .body("hello objects"),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["contentType"], "text/markdown");

    // `b` serves what `a` stored: bytes, type, version, ranges.
    let response = b
        .request(Method::GET, &format!("{OBJECTS}/docs/readme.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/markdown");
    let etag = format!("\"{}\"", put["etag"].as_str().unwrap());
    assert_eq!(response.headers()["etag"], etag.as_str());
    assert_eq!(response.text().await.unwrap(), "hello objects");
    let response = b
        .request(Method::GET, &format!("{OBJECTS}/docs/readme.txt"))
        .header("range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 6-12/13");
    assert_eq!(response.text().await.unwrap(), "objects");

    // Without a content type, one is guessed from the key, wherever it is read.
    put_bytes(&b, "site/index.html", b"<p>hi</p>".to_vec()).await;
    let response = a
        .request(Method::HEAD, &format!("{OBJECTS}/site/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let (_, listed) = a.get(&format!("{OBJECTS}?prefix=site/")).await;
    assert_eq!(listed["objects"][0]["key"], "site/index.html");

    // One quota for the namespace, whichever server is written: 700 KB through `a` leaves no
    // room for 400 KB through `b`.
    let (status, body) = put_bytes(&a, "big", vec![1; 700_000]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = put_bytes(&b, "bigger", vec![2; 400_000]).await;
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("quota"), "{body}");

    // Deleted through `b`, gone from `a`.
    let (status, _) = b.delete(&format!("{OBJECTS}/docs/readme.txt")).await;
    assert_eq!(status, 200);
    let (status, _) = a.get(&format!("{OBJECTS}/docs/readme.txt")).await;
    assert_eq!(status, 404);

    // In the bucket, every key is under the cluster's prefix: <prefix>/<namespace>/<bucket>/.
    let listing = s3_request("GET", &format!("/{bucket}?list-type=2")).await;
    assert!(
        listing.contains("<Key>cluster/guest/data/site/index.html</Key>"),
        "{listing}"
    );
    assert!(!listing.contains("<Key>guest/"), "{listing}");
}

#[tokio::test]
async fn functions_reach_the_bucket_through_the_s3_endpoint() {
    crate::tools::require_runtimes();
    let bucket = bucket().await;
    let server = serve_on(&bucket, &[]);
    sdk_action(&server, "aws", AWS_ACTION).await;

    let put = run(
        &server,
        "aws",
        json!({"op": "put", "key": "notes/a.txt", "body": "from a function", "type": "text/plain"}),
    )
    .await;
    assert_eq!(put, json!({"ok": true}));
    let response = server
        .request(Method::GET, &format!("{OBJECTS}/notes/a.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "from a function");

    // Two parts of 5 MiB and a short one, streamed on into the bucket's own multipart upload.
    let parts = run(&server, "aws", json!({"op": "multipart", "key": "big.bin"})).await;
    assert_eq!(
        parts,
        json!({"size": 10 * 1024 * 1024 + 10, "type": "application/x-parts"})
    );
    let listed = run(&server, "aws", json!({"op": "list", "prefix": ""})).await;
    assert_eq!(listed["keys"], json!(["big.bin", "notes/a.txt"]));
}
