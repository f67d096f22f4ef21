//! What recording metrics costs the invoke path, two ways:
//!
//! - in-process: what one warm invoke records (its request and its activation), timed over
//!   many repetitions against the same loop recording nothing (the floor): a number the
//!   machine's noise barely moves;
//! - end to end: the same no-op Node.js function on a server with metrics on (the default) and
//!   one with `--metrics-listen off`, which records nothing, in two interleaved rounds so the
//!   drift shows. Warm invoke p50 at c=1 and throughput at c=32; ratios are against the
//!   metrics-off server of the same round.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::Report;
use crate::server::{Via, Wisp};

pub async fn rows(
    binary: &Path,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    in_process(report);
    for round in 1..=2 {
        let mut off = (f64::NAN, f64::NAN);
        for (key, label, flags) in [
            ("off", "metrics off", &["--metrics-listen", "off"][..]),
            ("on", "metrics on", &[][..]),
        ] {
            let wisp = Wisp::start_with(binary, 2, flags).await?;
            wisp.create("noop", "nodejs:20", crate::NOOP_NODE).await?;
            let warm = wisp.latencies("noop", Via::Api, iterations).await?;
            let tput = wisp.throughput("noop", Via::Api, 32, seconds).await?;
            if key == "off" {
                off = (warm.p50_us(), tput);
            }
            report.record(
                &format!("metrics_{key}_warm_c1_round{round}"),
                &format!("{label}: nodejs:20 warm invoke, c=1 (round {round})"),
                warm.json(),
                format!("{} ({:.3}x off)", warm.summary(), warm.p50_us() / off.0),
            );
            report.record(
                &format!("metrics_{key}_warm_c32_round{round}"),
                &format!("{label}: nodejs:20 warm throughput, c=32 (round {round})"),
                json!(tput),
                format!("{tput:.0}/s ({:.3}x off)", tput / off.1),
            );
        }
    }
    Ok(())
}

/// One warm invoke's recording, in nanoseconds, against the same loop with metrics disabled.
fn in_process(report: &mut Report) {
    const REPETITIONS: u32 = 200_000;
    let time = |metrics: &wisp_metrics::Metrics| {
        let started = Instant::now();
        for _ in 0..REPETITIONS {
            metrics.http_request("POST", "/api/v1/namespaces/{ns}/actions/{*path}", 200);
            metrics.activation(wisp_metrics::Finished {
                namespace: std::hint::black_box("guest"),
                action: "noop",
                kind: "nodejs:20",
                outcome: wisp_core::Outcome::Success,
                start: Some(wisp_core::invoke::StartKind::Warm),
                wait: Duration::from_micros(150),
                init: None,
                run: Duration::from_micros(300),
            });
            metrics.store_write(Duration::from_micros(80));
        }
        started.elapsed().as_nanos() as f64 / f64::from(REPETITIONS)
    };
    let floor = time(&wisp_metrics::Metrics::disabled());
    let on = time(&wisp_metrics::Metrics::new(false));
    report.record(
        "metrics_record_one_invoke_ns",
        "metrics: recording one warm invoke, in-process (floor: disabled)",
        json!({"on_ns": on, "floor_ns": floor}),
        format!("{on:.0} ns (floor {floor:.0} ns)"),
    );
}
