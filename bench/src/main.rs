//! `wisp-bench`: measures Wisp and, in the same run, its floor.
//!
//! Starts a real `wisp serve` and drives it over HTTP with a keep-alive client, then measures
//! the same work without the platform: the launcher driven directly over its pipes, and a bare
//! loopback HTTP round trip through the same client. Prints a table and writes JSON.

mod floor;
mod server;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::{json, Value};

use server::Wisp;
use stats::Samples;

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
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-results/latest.json")]
    json: PathBuf,
}

const NOOP_NODE: &str = "function main(){ return {} }";
const NOOP_PYTHON: &str = "def main(args):\n    return {}";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = args.wisp.clone().unwrap_or_else(server::default_binary);
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut results = serde_json::Map::new();
    let mut record = |rows: &mut Vec<(String, String, String)>,
                      key: &str,
                      label: &str,
                      value: Value,
                      shown: String| {
        results.insert(key.to_string(), value);
        rows.push((label.to_string(), shown, String::new()));
    };

    let wisp = Wisp::start(&binary, 2).await.context("starting wisp")?;
    let launchers = wisp.data_dir.join("runtime/launchers");

    // Floors first, on a quiet machine.
    let http_floor = floor::http_round_trip(args.iterations).await?;
    let http_floor_tput = floor::http_throughput(32, Duration::from_secs(args.seconds)).await?;
    record(
        &mut rows,
        "http_floor",
        "floor: bare loopback HTTP round trip",
        http_floor.json(),
        http_floor.summary(),
    );
    record(
        &mut rows,
        "http_floor_c32",
        "floor: bare loopback HTTP, c=32",
        json!(http_floor_tput),
        format!("{http_floor_tput:.0}/s"),
    );

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
        record(
            &mut rows,
            &format!("{family}_pipe_floor"),
            &format!("floor: {kind} launcher over pipes"),
            pipe_floor.json(),
            pipe_floor.summary(),
        );

        let name = format!("noop-{family}");
        wisp.create(&name, kind, code).await?;
        wisp.invoke(&name).await?; // warm it
        let mut warm = Samples::default();
        for _ in 0..args.iterations {
            let t = Instant::now();
            wisp.invoke(&name).await?;
            warm.push(t.elapsed());
        }
        record(
            &mut rows,
            &format!("{family}_warm_c1"),
            &format!("wisp: {kind} warm invoke, c=1"),
            warm.json(),
            warm.summary(),
        );
        let overhead = warm.p50_us() - pipe_floor.p50_us();
        record(
            &mut rows,
            &format!("{family}_overhead_p50_us"),
            &format!("wisp: {kind} platform overhead p50"),
            json!(overhead),
            format!("{overhead:.0} µs over the pipe floor"),
        );

        let tput = wisp
            .throughput(&name, 32, Duration::from_secs(args.seconds))
            .await?;
        record(
            &mut rows,
            &format!("{family}_warm_c32"),
            &format!("wisp: {kind} warm throughput, c=32"),
            json!(tput),
            format!("{tput:.0}/s ({:.2}x HTTP floor)", tput / http_floor_tput),
        );

        let cold = wisp.cold_starts(kind, code, args.cold).await?;
        record(
            &mut rows,
            &format!("{family}_cold_stem_cell"),
            &format!("wisp: {kind} cold start, stem cell"),
            cold.json(),
            cold.summary(),
        );
        let rss = wisp.idle_stem_cell_rss(program);
        record(
            &mut rows,
            &format!("{family}_stem_cell_rss_kb"),
            &format!("wisp: {kind} idle stem cell RSS"),
            json!(rss),
            rss.map_or("n/a".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
        );
    }
    drop(wisp);

    let no_stem = Wisp::start(&binary, 0)
        .await
        .context("starting wisp without stem cells")?;
    for (kind, code) in [("nodejs:20", NOOP_NODE), ("python:3", NOOP_PYTHON)] {
        let family = kind.split(':').next().unwrap();
        let cold = no_stem.cold_starts(kind, code, args.cold.min(10)).await?;
        record(
            &mut rows,
            &format!("{family}_cold_no_stem_cell"),
            &format!("wisp: {kind} cold start, no stem cell"),
            cold.json(),
            cold.summary(),
        );
    }
    drop(no_stem);

    let extra_ca = std::env::var("NODE_EXTRA_CA_CERTS").ok();
    results.insert("node_extra_ca_certs".into(), json!(extra_ca));
    results.insert(
        "cpus".into(),
        json!(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)),
    );
    print_table(&rows);
    println!(
        "\nNODE_EXTRA_CA_CERTS: {}",
        extra_ca.as_deref().unwrap_or("not set")
    );
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&Value::Object(results))?,
    )?;
    println!("results written to {}", args.json.display());
    Ok(())
}

fn print_table(rows: &[(String, String, String)]) {
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    println!("\n{:<width$}  result", "measurement");
    println!("{}  {}", "-".repeat(width), "-".repeat(50));
    for (label, value, _) in rows {
        println!("{label:<width$}  {value}");
    }
}
