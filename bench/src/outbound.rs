//! What reaching the outside costs a function in an isolated network, where every connection
//! goes through the server (`crates/sandbox/src/forward.rs`): the same Node.js code making
//! HTTP requests to a server of the bench's own, run as a plain process on the host (the
//! floor), as a function on the host's network, and as a function in an isolated network.
//! Each run times, inside Node, a request on a new connection each time and requests on one
//! kept-alive connection; the rows are the medians Node measured.
//!
//! The bench's server listens on the host's own non-loopback address, which isolated
//! functions are denied by default: the run allows it with `--function-egress-allow`.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::report::Report;
use crate::server::Wisp;

/// Times `requests` requests each way and returns `{fresh, kept}`, medians in µs.
const CLIENT_JS: &str = r#"
const http = require('http');
function get(url, agent) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    http.get(url, { agent }, res => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t) / 1000));
    }).on('error', reject);
  });
}
function median(xs) { xs.sort((a, b) => a - b); return xs[Math.floor(xs.length / 2)]; }
async function main(params) {
  const fresh = [], kept = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < params.requests; i++) fresh.push(await get(params.url, false));
  for (let i = 0; i < params.requests; i++) kept.push(await get(params.url, agent));
  agent.destroy();
  return { fresh: median(fresh), kept: median(kept) };
}
"#;

pub async fn rows(binary: &Path, report: &mut Report, requests: usize) -> anyhow::Result<()> {
    let Some(address) = host_address() else {
        eprintln!("outbound rows skipped: this host has no non-loopback address");
        return Ok(());
    };
    let listener = TcpListener::bind((address, 0))?;
    let url = format!("http://{}/", listener.local_addr()?);
    std::thread::spawn(move || serve(listener));
    let params = json!({"url": url, "requests": requests});

    let floor = run_plain_node(&params)?;
    let allow = address.to_string();
    let configurations: [(&str, &str, Vec<&str>); 2] = [
        (
            "host",
            "function, host network",
            vec!["--function-network", "host"],
        ),
        (
            "isolated",
            "function, isolated network",
            vec!["--function-egress-allow", &allow],
        ),
    ];
    let mut measured = vec![("floor", "plain node on the host", floor)];
    for (key, label, flags) in configurations {
        let wisp = Wisp::start_with(binary, 1, &flags).await?;
        wisp.create_from(
            "outbound",
            json!({"exec": {"kind": "nodejs:20", "code": CLIENT_JS}, "limits": {"timeout": 120000}}),
        )
        .await?;
        measured.push((key, label, wisp.result("outbound", params.clone()).await?));
    }
    let base = measured[0].2.clone();
    for (key, label, result) in measured {
        for (kind, what) in [
            ("fresh", "new connection"),
            ("kept", "kept-alive connection"),
        ] {
            let us = result[kind].as_f64().unwrap_or(f64::NAN);
            let floor_us = base[kind].as_f64().unwrap_or(f64::NAN);
            report.record(
                &format!("outbound_{key}_{kind}_us"),
                &format!("{label}: HTTP request, {what} (median)"),
                json!(us),
                format!("{us:.0} µs ({:.2}x floor)", us / floor_us),
            );
        }
    }
    Ok(())
}

/// The host's address on its default route.
fn host_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks a route and a source.
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The floor: the same code in a plain `node` on the host.
fn run_plain_node(params: &Value) -> anyhow::Result<Value> {
    let script = format!("{CLIENT_JS}\nmain({params}).then(r => console.log(JSON.stringify(r)));");
    let output = std::process::Command::new("node")
        .args(["-e", &script])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "node: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Answers every request with `ok`, keeping connections alive; one thread per connection.
fn serve(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut stream = stream;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    pending.drain(..end + 4);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                }
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
        });
    }
}
