//! Functions in isolated networks (the default) reach the outside network through the server,
//! by name, and not the host or its private neighbours.
//!
//! "The outside" is a network namespace this test makes: a veth pair from the host to it, an
//! address from the benchmarking block (198.18.0.0/15) on each end, and an HTTP server in it.
//! Names resolve through a DNS server the test runs, given to the server as `--function-dns`,
//! so nothing leaves the machine. The host's end of the veth also serves HTTP on 0.0.0.0, as a
//! host service would: that one must not be reached.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::Server;

const NAME: &str = "outside.wisp.test";

/// Fetches what it is given and reports `reached: <body>` or `blocked: <code>` for each.
const FETCH_JS: &str = r#"
const dns = require('dns').promises;
const http = require('http');

function get(url) {
  return new Promise(resolve => {
    const req = http.get(url, { timeout: 5000 }, res => {
      let body = '';
      res.on('data', d => body += d);
      res.on('end', () => resolve('reached: ' + body));
    });
    req.on('error', e => resolve('blocked: ' + e.code));
    req.on('timeout', () => { req.destroy(); resolve('blocked: timeout'); });
  });
}

async function lookup(name) {
  try { return (await dns.lookup(name, { family: 4 })).address; } catch (e) { return 'failed: ' + e.code; }
}

async function main(params) {
  const report = { address: await lookup(params.name), unknown: await lookup('nowhere.wisp.test') };
  for (const [key, url] of Object.entries(params.urls)) report[key] = await get(url);
  return report;
}
"#;

const FETCH_PY: &str = r#"
import socket, urllib.request

def main(params):
    try:
        address = socket.gethostbyname(params['name'])
    except OSError as e:
        address = 'failed: %s' % e
    try:
        body = urllib.request.urlopen(params['urls']['outside'], timeout=5).read().decode()
        outside = 'reached: ' + body
    except Exception as e:
        outside = 'blocked: %s' % e
    return {'address': address, 'outside': outside}
"#;

/// A network namespace standing for the outside world, joined to the host by a veth pair.
struct Outside {
    name: String,
    host: Ipv4Addr,
    remote: Ipv4Addr,
    /// The port of the HTTP server in the outside namespace.
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Outside {
    fn new() -> Outside {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        // A /30 of 198.18.0.0/15 of this process's own.
        let block = ((std::process::id() % 8192) * 4 + n) * 4;
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + block;
        let (host, remote) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        let name = format!("wisp-test-outside-{}-{n}", std::process::id());
        let veth = format!("wto{}x{n}", std::process::id() % 100_000);
        let outside = Outside {
            name: name.clone(),
            host,
            remote,
            port: 8080,
            stop: Arc::new(AtomicBool::new(false)),
        };
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        ip(&["addr", "add", &format!("{host}/30"), "dev", &veth]);
        ip(&["link", "set", &veth, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["-n", name.as_str()];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{remote}/30"), "dev", "eth0"]);
        inside(&["link", "set", "eth0", "up"]);
        inside(&["link", "set", "lo", "up"]);
        let listener = {
            let namespace = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
            let address = SocketAddr::from((remote, outside.port));
            std::thread::spawn(move || {
                // SAFETY: this thread only binds a socket in the outside namespace, then ends.
                assert_eq!(
                    unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) },
                    0
                );
                TcpListener::bind(address).unwrap()
            })
            .join()
            .unwrap()
        };
        serve_http(listener, "hello from outside", outside.stop.clone());
        outside
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The namespace's end of the veth goes with it, and the host's end with that.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) {
    crate::tools::require("ip", crate::tools::IPROUTE2);
    let output = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Answers every HTTP request on `listener` with `greeting` and the peer's address, until
/// `stop`.
fn serve_http(listener: TcpListener, greeting: &'static str, stop: Arc<AtomicBool>) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut stream, peer)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = format!("{greeting}, you are {}", peer.ip());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

/// A DNS server on 127.0.0.1 answering `NAME` with `address` and every other name with
/// NXDOMAIN. Returns its address.
fn serve_dns(address: Ipv4Addr) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            if let Some(answer) = dns_answer(&buf[..len], address) {
                let _ = socket.send_to(&answer, from);
            }
        }
    });
    local
}

fn dns_answer(query: &[u8], address: Ipv4Addr) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let kind = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let known = labels.join(".") == NAME;
    let mut answer = query[..2].to_vec();
    answer.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]); // NOERROR / NXDOMAIN
    let count = u16::from(known && kind == 1);
    answer.extend_from_slice(&[0, 1, 0, count as u8, 0, 0, 0, 0]);
    answer.extend_from_slice(question);
    if count == 1 {
        // A pointer to the question's name, type A, class IN, TTL 60, four bytes.
        answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        answer.extend_from_slice(&address.octets());
    }
    Some(answer)
}

/// A service of the host on every interface (as a careless database would listen).
fn host_service(stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_http(listener, "a host service", stop);
    port
}

/// What the Node.js fetcher reports for `urls`, with `NAME` to resolve.
async fn fetch_js(server: &Server, urls: Value) -> Value {
    report(
        server,
        "fetch",
        "nodejs:20",
        FETCH_JS,
        json!({"name": NAME, "urls": urls}),
    )
    .await
}

async fn report(server: &Server, name: &str, kind: &str, code: &str, params: Value) -> Value {
    server
        .action(name, kind, code, json!({"limits": {"timeout": 30000}}))
        .await;
    server.result(name, params).await
}

#[tokio::test]
async fn functions_reach_the_outside_by_name_and_not_the_host() {
    let outside = Outside::new();
    let dns = serve_dns(outside.remote);
    let host_port = host_service(outside.stop.clone());
    let server = Server::start_with(&["--function-dns", &dns.to_string()]);
    let urls = json!({
        "outside": format!("http://{NAME}:{}/", outside.port),
        "host": format!("http://{}:{host_port}/", outside.host),
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "private": "http://10.255.255.1:80/",
        "loopback": format!("http://127.0.0.1:{host_port}/"),
    });
    let params = json!({"name": NAME, "urls": urls});
    let js = report(&server, "fetch", "nodejs:20", FETCH_JS, params.clone()).await;
    // The outside sees the host's address: the server made the connection.
    let greeting = format!("reached: hello from outside, you are {}", outside.host);
    assert_eq!(js["address"], outside.remote.to_string(), "{js:#}");
    assert_eq!(js["unknown"], "failed: ENOTFOUND", "{js:#}");
    assert_eq!(js["outside"], greeting, "{js:#}");
    for denied in ["host", "metadata", "private"] {
        assert_eq!(js[denied], "blocked: ECONNRESET", "{denied}: {js:#}");
    }
    assert_eq!(js["loopback"], "blocked: ECONNREFUSED", "{js:#}");
    let py = report(&server, "pyfetch", "python:3", FETCH_PY, params).await;
    assert_eq!(py["address"], outside.remote.to_string(), "{py:#}");
    assert_eq!(py["outside"], greeting, "{py:#}");
}

#[tokio::test]
async fn the_operator_may_allow_a_denied_block() {
    let outside = Outside::new();
    let dns = serve_dns(outside.remote);
    let host_port = host_service(outside.stop.clone());
    let allowed = outside.host.to_string();
    let server = Server::start_with(&[
        "--function-dns",
        &dns.to_string(),
        "--function-egress-allow",
        &allowed,
    ]);
    let urls = json!({
        "host": format!("http://{}:{host_port}/", outside.host),
        "private": "http://10.255.255.1:80/",
    });
    let js = fetch_js(&server, urls).await;
    let reached = js["host"].as_str().unwrap_or_default();
    assert!(
        reached.starts_with("reached: a host service, you are "),
        "{js:#}"
    );
    assert_eq!(js["private"], "blocked: ECONNRESET", "{js:#}");
}

#[test]
fn a_bad_block_is_refused_at_start() {
    let output = Command::new(crate::support::wisp_binary())
        .args(["serve", "--function-egress-allow", "10.0.0.0/40"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the prefix must be 0 to 32"), "{stderr}");
}

#[tokio::test]
async fn an_api_on_every_address_is_reached_at_the_hosts_address() {
    let outside = Outside::new();
    let dns = serve_dns(outside.remote);
    let server = Server::start_on("0.0.0.0:0", &["--function-dns", &dns.to_string()]);
    let port = server.api_host.rsplit(':').next().unwrap().to_owned();
    // The host's address on the veth: how a function finds the platform by a public name.
    let urls = json!({
        "api": format!("http://{}:{port}/api/v1", outside.host),
        "other": format!("http://{}:{}/", outside.host, host_service(outside.stop.clone())),
    });
    let js = fetch_js(&server, urls).await;
    let api = js["api"].as_str().unwrap_or_default();
    assert!(api.starts_with("reached: {"), "{js:#}");
    assert!(
        api.contains("api_paths") || api.contains("runtimes"),
        "{js:#}"
    );
    assert_eq!(
        js["other"], "blocked: ECONNRESET",
        "only the platform's port: {js:#}"
    );
}
