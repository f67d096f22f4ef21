//! `wisp-bench`: measures Wisp and, in the same run, its floor.
//!
//! Starts a real `wisp serve` and drives it over HTTP with a keep-alive client, then measures
//! the same work without the platform: the launcher driven directly over its pipes, and a bare
//! loopback HTTP round trip through the same client. Prints a table and writes JSON.

mod cluster;
mod compose;
mod floor;
mod kv;
mod metrics;
mod model;
mod outbound;
mod report;
mod sandbox;
mod server;
mod sites;
mod state;
mod stats;
mod wasm;
mod workerd;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use report::Report;
use server::{Via, Wisp};

#[derive(Parser)]
struct Args {
    /// The wisp binary [default: target/release/wisp, else target/debug/wisp].
    #[arg(long)]
    wisp: Option<PathBuf>,
    /// Warm invocations measured per kind at concurrency 1.
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    /// Seconds of load at concurrency 32 per kind.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Cold starts measured per kind and mode.
    #[arg(long, default_value_t = 20)]
    cold: usize,
    /// Trigger fires measured (each paired with a direct non-blocking invoke, the floor).
    #[arg(long, default_value_t = 200)]
    fires: usize,
    /// Rounds of the composition rows (10 single invokes, a sequence of 10, a Composer
    /// sequence of 10).
    #[arg(long, default_value_t = 100)]
    compositions: usize,
    /// Requests per key-value test (SET, GET) and concurrency, for Wisp's RESP endpoint and
    /// the machine's Redis alike.
    #[arg(long, default_value_t = 50_000)]
    kv_requests: usize,
    /// Only the state rows: the key-value store against Redis, declared state against the SDK,
    /// a declared file.
    #[arg(long)]
    state_only: bool,
    /// Only the static-site rows: a 10 KB file from a site against nginx and the floor, and
    /// deploy times.
    #[arg(long, conflicts_with_all = ["state_only", "wasm_only"])]
    sites_only: bool,
    /// Only the wasm rows and the workerd comparison, with the HTTP floor.
    #[arg(long, conflicts_with = "state_only")]
    wasm_only: bool,
    /// Only the sandbox rows: no-op functions with the sandbox off, without a network
    /// namespace, and with every layer; then HTTP requests from a function on the host's
    /// network and from an isolated one.
    #[arg(long, conflicts_with_all = ["state_only", "wasm_only", "sites_only"])]
    sandbox_only: bool,
    /// Only the metrics rows: the same function with metrics on and off.
    #[arg(long, conflicts_with_all = ["state_only", "wasm_only", "sites_only", "sandbox_only"])]
    metrics_only: bool,
    /// Only the cluster rows: `wisp serve` against one controller and one invoker, and two
    /// controllers and three invokers, on the machine's PostgreSQL and NATS; failover after
    /// `kill -9` of an invoker.
    #[arg(long, conflicts_with_all = ["state_only", "wasm_only", "sites_only", "sandbox_only", "metrics_only"])]
    cluster_only: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results/latest.json")]
    json: PathBuf,
}

pub const NOOP_NODE: &str = "function main(){ return {} }";
pub const NOOP_PYTHON: &str = "def main(args):\n    return {}";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = args.wisp.clone().unwrap_or_else(server::default_binary);
    let mut report = Report::default();

    if args.cluster_only {
        let seconds = Duration::from_secs(args.seconds);
        cluster::rows(&binary, &mut report, args.iterations, seconds).await?;
        return finish(report, &args);
    }
    if args.metrics_only {
        let seconds = Duration::from_secs(args.seconds);
        metrics::rows(&binary, &mut report, args.iterations, seconds).await?;
        return finish(report, &args);
    }
    if args.sandbox_only {
        let seconds = Duration::from_secs(args.seconds);
        sandbox::rows(&binary, &mut report, args.iterations, seconds, args.cold).await?;
        outbound::rows(&binary, &mut report, args.iterations).await?;
        return finish(report, &args);
    }
    let wisp = Wisp::start(&binary, 2).await.context("starting wisp")?;

    if args.sites_only {
        let seconds = Duration::from_secs(args.seconds);
        sites::rows(&wisp, &binary, &mut report, args.iterations, seconds).await?;
        drop(wisp);
        return finish(report, &args);
    }
    if args.wasm_only {
        let seconds = Duration::from_secs(args.seconds);
        http_floors(&mut report, &args).await?;
        wasm::rows(&wisp, &mut report, args.iterations, seconds, args.cold).await?;
        workerd::rows(&wisp, &mut report, args.iterations, seconds).await?;
        return finish(report, &args);
    }
    if !args.state_only {
        core_rows(&wisp, &mut report, &args).await?;
    }
    kv::resp_vs_redis(&wisp, &mut report, args.kv_requests).await?;
    state::declared_vs_sdk(&wisp, &mut report, args.iterations / 2).await?;
    state::declared_file(&wisp, &mut report, 400).await?;
    drop(wisp);

    if !args.state_only {
        let no_stem = Wisp::start(&binary, 0)
            .await
            .context("starting wisp without stem cells")?;
        for (kind, code) in [("nodejs:20", NOOP_NODE), ("python:3", NOOP_PYTHON)] {
            let family = kind.split(':').next().unwrap();
            let cold = no_stem.cold_starts(kind, code, args.cold.min(10)).await?;
            report.record(
                &format!("{family}_cold_no_stem_cell"),
                &format!("wisp: {kind} cold start, no stem cell"),
                cold.json(),
                cold.summary(),
            );
        }
        drop(no_stem);
    }
    finish(report, &args)
}

/// Prints the table and writes the JSON.
fn finish(mut report: Report, args: &Args) -> anyhow::Result<()> {
    let extra_ca = std::env::var("NODE_EXTRA_CA_CERTS").ok();
    report.note("node_extra_ca_certs", json!(extra_ca));
    report.note(
        "cpus",
        json!(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)),
    );
    report.print_table();
    println!(
        "\nNODE_EXTRA_CA_CERTS: {}",
        extra_ca.as_deref().unwrap_or("not set")
    );
    report.write_json(&args.json)?;
    println!("results written to {}", args.json.display());
    Ok(())
}

/// The bare loopback HTTP floors every platform row compares itself with.
async fn http_floors(report: &mut Report, args: &Args) -> anyhow::Result<()> {
    let http_floor = floor::http_round_trip(args.iterations).await?;
    let http_floor_tput = floor::http_throughput(32, Duration::from_secs(args.seconds)).await?;
    report.record(
        "http_floor",
        "floor: bare loopback HTTP round trip",
        http_floor.json(),
        http_floor.summary(),
    );
    report.record(
        "http_floor_c32",
        "floor: bare loopback HTTP, c=32",
        json!(http_floor_tput),
        format!("{http_floor_tput:.0}/s"),
    );
    Ok(())
}

/// The core platform's rows: floors, warm and cold invokes per kind, web actions, triggers,
/// compositions.
async fn core_rows(wisp: &Wisp, report: &mut Report, args: &Args) -> anyhow::Result<()> {
    let launchers = wisp.data_dir.join("runtime/launchers");
    // Floors first, on a quiet machine.
    http_floors(report, args).await?;
    let http_floor_tput = report
        .value("http_floor_c32")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN);

    for (kind, code, program, launcher) in [
        (
            "nodejs:20",
            NOOP_NODE,
            "node",
            launchers.join("launcher.js"),
        ),
        (
            "python:3",
            NOOP_PYTHON,
            "python3",
            launchers.join("launcher.py"),
        ),
    ] {
        let family = kind.split(':').next().unwrap();
        let pipe_floor = floor::launcher_pipes(program, &launcher, code, args.iterations)?;
        report.record(
            &format!("{family}_pipe_floor"),
            &format!("floor: {kind} launcher over pipes"),
            pipe_floor.json(),
            pipe_floor.summary(),
        );

        let name = format!("noop-{family}");
        wisp.create(&name, kind, code).await?;
        let warm = wisp.latencies(&name, Via::Api, args.iterations).await?;
        report.record(
            &format!("{family}_warm_c1"),
            &format!("wisp: {kind} warm invoke, c=1"),
            warm.json(),
            warm.summary(),
        );
        let overhead = warm.p50_us() - pipe_floor.p50_us();
        report.record(
            &format!("{family}_overhead_p50_us"),
            &format!("wisp: {kind} platform overhead p50"),
            json!(overhead),
            format!("{overhead:.0} µs over the pipe floor"),
        );

        let tput = wisp
            .throughput(&name, Via::Api, 32, Duration::from_secs(args.seconds))
            .await?;
        report.record(
            &format!("{family}_warm_c32"),
            &format!("wisp: {kind} warm throughput, c=32"),
            json!(tput),
            format!("{tput:.0}/s ({:.2}x HTTP floor)", tput / http_floor_tput),
        );

        let cold = wisp.cold_starts(kind, code, args.cold).await?;
        report.record(
            &format!("{family}_cold_stem_cell"),
            &format!("wisp: {kind} cold start, stem cell"),
            cold.json(),
            cold.summary(),
        );
        let rss = wisp.idle_stem_cell_rss(program);
        report.record(
            &format!("{family}_stem_cell_rss_kb"),
            &format!("wisp: {kind} idle stem cell RSS"),
            json!(rss),
            rss.map_or("n/a".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
        );
    }
    let seconds = Duration::from_secs(args.seconds);
    wasm::rows(wisp, report, args.iterations, seconds, args.cold).await?;
    workerd::rows(wisp, report, args.iterations, seconds).await?;
    model::web_vs_api(wisp, report, args.iterations, seconds).await?;
    model::trigger_to_start(wisp, report, args.fires, Duration::from_secs(30)).await?;
    compose::per_step(wisp, report, args.compositions).await?;
    let binary = args.wisp.clone().unwrap_or_else(server::default_binary);
    sites::rows(wisp, &binary, report, args.iterations, seconds).await?;
    sandbox::rows(&binary, report, args.iterations / 4, seconds, args.cold).await?;
    outbound::rows(&binary, report, args.iterations / 4).await?;
    metrics::rows(&binary, report, args.iterations / 4, seconds).await?;
    Ok(())
}
