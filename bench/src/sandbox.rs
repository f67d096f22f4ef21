//! The sandbox's cost: the same no-op functions on servers with the sandbox off, with every
//! layer but the network namespace (`--function-network=host`), and with every layer (the
//! default), in one run. Warm invokes should not notice it; it is paid when a stem cell is
//! made, which a cold start without a stem cell shows.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::report::Report;
use crate::server::{Via, Wisp};

const CONFIGURATIONS: [(&str, &str, &[&str]); 3] = [
    ("off", "sandbox off", &["--sandbox", "off"]),
    (
        "no_netns",
        "sandbox, host network",
        &["--function-network", "host"],
    ),
    ("full", "sandbox, isolated network", &[]),
];

pub async fn rows(
    binary: &Path,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
    cold: usize,
) -> anyhow::Result<()> {
    for (kind, code) in [
        ("nodejs:20", crate::NOOP_NODE),
        ("python:3", crate::NOOP_PYTHON),
    ] {
        let family = kind.split(':').next().unwrap();
        let mut warm_off = f64::NAN;
        let mut cold_off = f64::NAN;
        for (key, label, flags) in CONFIGURATIONS {
            let wisp = Wisp::start_with(binary, 2, flags).await?;
            let name = format!("noop-{family}");
            wisp.create(&name, kind, code).await?;
            let warm = wisp.latencies(&name, Via::Api, iterations).await?;
            if key == "off" {
                warm_off = warm.p50_us();
            }
            report.record(
                &format!("sandbox_{key}_{family}_warm_c1"),
                &format!("{label}: {kind} warm invoke, c=1"),
                warm.json(),
                format!("{} ({:.2}x off)", warm.summary(), warm.p50_us() / warm_off),
            );
            let tput = wisp.throughput(&name, Via::Api, 32, seconds).await?;
            report.record(
                &format!("sandbox_{key}_{family}_warm_c32"),
                &format!("{label}: {kind} warm throughput, c=32"),
                json!(tput),
                format!("{tput:.0}/s"),
            );
            let stem = wisp.cold_starts(kind, code, cold).await?;
            report.record(
                &format!("sandbox_{key}_{family}_cold_stem_cell"),
                &format!("{label}: {kind} cold start, stem cell"),
                stem.json(),
                stem.summary(),
            );
            drop(wisp);
            let no_stem = Wisp::start_with(binary, 0, flags).await?;
            let samples = no_stem.cold_starts(kind, code, cold.min(10)).await?;
            if key == "off" {
                cold_off = samples.p50_us();
            }
            report.record(
                &format!("sandbox_{key}_{family}_cold_no_stem_cell"),
                &format!("{label}: {kind} cold start, no stem cell"),
                samples.json(),
                format!(
                    "{} (+{:.1} ms over off)",
                    samples.summary(),
                    (samples.p50_us() - cold_off) / 1000.0
                ),
            );
        }
    }
    Ok(())
}
