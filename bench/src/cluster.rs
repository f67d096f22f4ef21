//! What the cluster costs and how it fails over, on this machine's PostgreSQL and NATS: warm
//! no-op invokes through `wisp serve` (on the same PostgreSQL store, so the rows differ by the
//! bus alone), through one controller and one invoker, and through two controllers and three
//! invokers; the added latency of the bus hop against `wisp serve`; and, after `kill -9` of
//! an invoker, how long until every action answers again. The floor is the bare loopback HTTP
//! round trip, measured in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::floor::{self, load};
use crate::report::Report;
use crate::server::{invoke, Via, Wisp};
use crate::stats::Samples;

const NATS: &str = "nats://127.0.0.1:4222";

/// The actions the failover row spreads over the invokers (each has its own home).
const FAILOVER_ACTIONS: usize = 12;

pub async fn rows(
    binary: &Path,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let db = Database::create()?;
    let floor = floor::http_round_trip(iterations).await?;
    report.record(
        "cluster_http_floor",
        "floor: bare loopback HTTP round trip",
        floor.json(),
        floor.summary(),
    );

    let serve = Wisp::start_with(binary, 2, &["--store", &db.url()]).await?;
    let (serve_c1, serve_c32) = measure(&[&serve], iterations, seconds).await?;
    drop(serve);
    row(
        report,
        "serve",
        "wisp serve (PostgreSQL)",
        &serve_c1,
        serve_c32,
        &serve_c1,
        serve_c32,
    );

    for (controllers, invokers) in [(1, 1), (2, 3)] {
        let cluster = Cluster::start(binary, &db, controllers, invokers).await?;
        let apis: Vec<&Wisp> = cluster.controllers.iter().collect();
        let (c1, c32) = measure(&apis, iterations, seconds).await?;
        let key = format!("cluster_{controllers}c{invokers}i");
        let label = format!("{controllers} controller(s) + {invokers} invoker(s)");
        row(report, &key, &label, &c1, c32, &serve_c1, serve_c32);
        if controllers == 1 {
            let hop = c1.p50_us() - serve_c1.p50_us();
            report.record(
                "cluster_bus_hop_p50_us",
                "cluster: added latency of the bus hop, p50",
                json!(hop),
                format!("{hop:.0} µs over wisp serve (goal ≤ 1000 µs)"),
            );
        } else {
            failover(cluster, report).await?;
        }
    }
    Ok(())
}

/// Warm no-op latency at c=1 through the first API, and throughput at c=32 spread over all.
async fn measure(
    apis: &[&Wisp],
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<(Samples, f64)> {
    for api in apis {
        api.create("noop", "nodejs:20", crate::NOOP_NODE).await?;
    }
    let c1 = apis[0].latencies("noop", Via::Api, iterations).await?;
    let doors: Arc<Vec<(String, String)>> =
        Arc::new(apis.iter().map(|api| api.invoke_door("noop")).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let c32 = load(32, seconds, move || {
        let (client, doors, next) = (client.clone(), doors.clone(), next.clone());
        async move {
            let (url, auth) = &doors[next.fetch_add(1, Ordering::Relaxed) % doors.len()];
            invoke(&client, url, Some(auth)).await
        }
    })
    .await?;
    Ok((c1, c32))
}

fn row(
    report: &mut Report,
    key: &str,
    label: &str,
    c1: &Samples,
    c32: f64,
    serve_c1: &Samples,
    serve_c32: f64,
) {
    report.record(
        &format!("{key}_warm_c1"),
        &format!("{label}: nodejs:20 warm no-op, c=1"),
        c1.json(),
        format!(
            "{} ({:.2}x serve)",
            c1.summary(),
            c1.p50_us() / serve_c1.p50_us()
        ),
    );
    report.record(
        &format!("{key}_warm_c32"),
        &format!("{label}: warm throughput, c=32"),
        json!(c32),
        format!("{c32:.0}/s ({:.2}x serve)", c32 / serve_c32),
    );
}

/// Kills two of the three invokers with SIGKILL while every action is invoked again and again
/// (each in a task of its own, one call at a time), and measures, per action, the time from
/// the kill to its first answered invoke; and counts the invokes that failed meanwhile and
/// the actions that had to move (answered a second or more after the kill). Two of three, so
/// that most actions lose the invoker they ran on whatever placement chose.
async fn failover(cluster: Cluster, report: &mut Report) -> anyhow::Result<()> {
    let api = &cluster.controllers[0];
    let mut doors = Vec::new();
    for i in 0..FAILOVER_ACTIONS {
        let name = format!("fo{i}");
        api.create(&name, "nodejs:20", crate::NOOP_NODE).await?;
        api.invoke(&name).await?;
        doors.push(api.invoke_door(&name));
    }
    let killed = Instant::now();
    cluster.kill_invoker(0);
    cluster.kill_invoker(1);
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (url, auth) in doors {
        let client = client.clone();
        tasks.spawn(async move {
            let mut failed = 0;
            while killed.elapsed() < Duration::from_secs(60) {
                match invoke(&client, &url, Some(&auth)).await {
                    Ok(()) => return Ok((killed.elapsed(), failed)),
                    Err(_) => failed += 1,
                }
            }
            bail!("{url} still failing a minute after the kill")
        });
    }
    let mut recovered = Samples::default();
    let (mut failed, mut moved) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (after, failures) = done??;
        recovered.push(after);
        failed += failures;
        moved += usize::from(after >= Duration::from_secs(1));
    }
    report.record(
        "cluster_failover",
        "2c+3i: kill -9 of 2 invokers → every action answers",
        json!({"recovered": recovered.json(), "failed_invokes": failed, "moved": moved}),
        format!(
            "max {:.2} s, p50 {:.2} s after the kill; {moved} of {FAILOVER_ACTIONS} actions \
             moved, {failed} invokes failed (goal ≤ 5 s)",
            recovered.p99_us() / 1e6,
            recovered.p50_us() / 1e6,
        ),
    );
    Ok(())
}

/// Controllers and invokers of one cluster, stopped when dropped.
struct Cluster {
    controllers: Vec<Wisp>,
    invokers: Vec<(Child, PathBuf)>,
}

impl Cluster {
    async fn start(
        binary: &Path,
        db: &Database,
        controllers: usize,
        invokers: usize,
    ) -> anyhow::Result<Cluster> {
        let name = format!("bench{}x{controllers}x{invokers}", std::process::id());
        let guest = guest_key();
        let mut started = Vec::new();
        for c in 0..controllers {
            let args: Vec<String> = [
                "controller",
                "--listen",
                "127.0.0.1:0",
                "--store",
                &db.url(),
                "--bus",
                NATS,
                "--cluster",
                &name,
                "--controller-id",
                &format!("c{c}"),
                "--metrics-listen",
                "off",
            ]
            .map(String::from)
            .to_vec();
            let dir = std::env::temp_dir().join(format!("{name}-c{c}"));
            started.push(Wisp::launch(binary, &args, dir, &[("WISP_GUEST_KEY", &guest)]).await?);
        }
        let api_host = started[0].base().to_owned();
        let mut children = Vec::new();
        for i in 0..invokers {
            let dir = std::env::temp_dir().join(format!("{name}-i{i}"));
            let _ = std::fs::remove_dir_all(&dir);
            let kv = format!("127.0.{}.{}:6379", 100 + controllers, 10 + i);
            let child = Command::new(binary)
                .args(["invoker", "--bus", NATS, "--cluster", &name])
                .args(["--invoker-id", &format!("i{i}"), "--api-host", &api_host])
                .args(["--stem-cells", "2", "--metrics-listen", "off"])
                .args([
                    "--kv-listen",
                    &kv,
                    "--s3-listen",
                    &kv.replace("6379", "9000"),
                ])
                .arg("--data-dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .spawn()
                .context("starting an invoker")?;
            children.push((child, dir));
        }
        let cluster = Cluster {
            controllers: started,
            invokers: children,
        };
        // Every invoker has announced itself and warmed its stem cells.
        tokio::time::sleep(Duration::from_secs(4)).await;
        Ok(cluster)
    }

    /// SIGKILL to one invoker (reaped when the cluster is dropped).
    fn kill_invoker(&self, index: usize) {
        let (child, _) = &self.invokers[index];
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (child, dir) in &mut self.invokers {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A guest key every controller of a cluster shares: `uuid:key`.
fn guest_key() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand_u32() % 16, 16).unwrap())
            .collect()
    };
    format!(
        "{}-{}-4{}-a{}-{}:{}",
        hex(8),
        hex(4),
        hex(3),
        hex(3),
        hex(12),
        hex(64)
    )
}

/// A random number from the kernel, for names and keys.
fn fastrand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    u32::from_ne_bytes(bytes)
}

/// A database of this run's own on the machine's PostgreSQL, dropped at the end.
struct Database(String);

impl Database {
    fn create() -> anyhow::Result<Database> {
        let name = format!("wisp_bench_{:08x}", fastrand_u32());
        psql(&format!("CREATE DATABASE {name}"))?;
        Ok(Database(name))
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.0)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
    }
}

fn psql(sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .context("psql (the cluster rows need the machine's PostgreSQL on 127.0.0.1:5432)")?;
    if !out.status.success() {
        bail!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
