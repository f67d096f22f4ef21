//! The key-value store's RESP endpoint against the machine's Redis server, driven by the same
//! client (`redis-benchmark`) at the same concurrency in the same run: Redis is the floor.

use std::process::Command;

use anyhow::{bail, Context};
use serde_json::json;

use crate::report::Report;
use crate::server::Wisp;

/// The machine's Redis, the floor.
const REDIS: (&str, &str) = ("127.0.0.1", "6379");

pub async fn resp_vs_redis(
    wisp: &Wisp,
    report: &mut Report,
    requests: usize,
) -> anyhow::Result<()> {
    // Without a password the server has no key-value store (its address was taken, say).
    let password = match wisp.kv_password().await {
        Ok(password) => password,
        Err(e) => {
            eprintln!("the key-value rows are skipped: {e:#}");
            return Ok(());
        }
    };
    let (host, port) = crate::server::KV_ADDRESS
        .split_once(':')
        .expect("host:port");
    for (clients, what) in [(32, "throughput"), (1, "latency")] {
        let floor = match run(REDIS, None, clients, requests) {
            Ok(floor) => floor,
            Err(e) => {
                eprintln!("the Redis rows are skipped: {e:#}");
                return Ok(());
            }
        };
        let ours = run((host, port), Some(&password), clients, requests)?;
        for ((test, redis), (_, wisp)) in floor.iter().zip(&ours) {
            let key = format!("kv_{}_c{clients}", test.to_lowercase());
            if what == "throughput" {
                let ratio = wisp.rps / redis.rps;
                report.record(
                    &format!("{key}_floor"),
                    &format!("floor: Redis {test}, c={clients}"),
                    json!({"per_second": redis.rps, "p50_ms": redis.p50_ms}),
                    format!("{:.0}/s", redis.rps),
                );
                report.record(
                    &key,
                    &format!("wisp: RESP {test}, c={clients}"),
                    json!({"per_second": wisp.rps, "p50_ms": wisp.p50_ms, "ratio": ratio}),
                    format!("{:.0}/s ({ratio:.2}x Redis)", wisp.rps),
                );
            } else {
                report.record(
                    &format!("{key}_floor"),
                    &format!("floor: Redis {test}, c={clients}"),
                    json!({"p50_ms": redis.p50_ms}),
                    format!("p50 {:.0} µs", redis.p50_ms * 1000.0),
                );
                report.record(
                    &key,
                    &format!("wisp: RESP {test}, c={clients}"),
                    json!({"p50_ms": wisp.p50_ms, "p50_ratio": wisp.p50_ms / redis.p50_ms}),
                    format!(
                        "p50 {:.0} µs ({:.2}x Redis p50)",
                        wisp.p50_ms * 1000.0,
                        wisp.p50_ms / redis.p50_ms
                    ),
                );
            }
        }
    }
    Ok(())
}

struct Result {
    rps: f64,
    p50_ms: f64,
}

/// `redis-benchmark -t set,get` against `(host, port)`: (test, result) per test, in its order.
fn run(
    (host, port): (&str, &str),
    password: Option<&str>,
    clients: usize,
    requests: usize,
) -> anyhow::Result<Vec<(String, Result)>> {
    let mut command = Command::new("redis-benchmark");
    command
        .args(["-h", host, "-p", port, "-t", "set,get", "--csv"])
        .args(["-c", &clients.to_string(), "-n", &requests.to_string()]);
    if let Some(password) = password {
        command.args(["-a", password]);
    }
    let output = command.output().context("running redis-benchmark")?;
    if !output.status.success() {
        bail!(
            "redis-benchmark against {host}:{port}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let mut results = Vec::new();
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if fields.len() < 5 {
            continue;
        }
        results.push((
            fields[0].to_string(),
            Result {
                rps: fields[1].parse()?,
                p50_ms: fields[4].parse()?,
            },
        ));
    }
    if results.is_empty() {
        bail!("redis-benchmark against {host}:{port} printed no results: {text}");
    }
    Ok(results)
}
