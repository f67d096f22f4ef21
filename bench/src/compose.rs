//! Compositions: the cost per step of a sequence of ten no-op actions, and of a Composer
//! `sequence` of the same ten, against their floor: the client invoking the no-op ten times
//! itself, in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::json;

use crate::report::Report;
use crate::server::Wisp;
use crate::stats::Samples;
use crate::NOOP_NODE;

const STEPS: usize = 10;

pub async fn per_step(wisp: &Wisp, report: &mut Report, iterations: usize) -> anyhow::Result<()> {
    let step = "noop-step";
    wisp.create(step, "nodejs:20", NOOP_NODE).await?;
    let components = vec![format!("/_/{step}"); STEPS];
    wisp.create_from(
        "seq10",
        json!({"exec": {"kind": "sequence", "components": components}}),
    )
    .await?;
    let composer = match conductor_code(step) {
        Ok(code) => {
            let body = json!({
                "exec": {"kind": "nodejs:20", "code": code},
                "annotations": [{"key": "conductor", "value": true}, {"key": "provide-api-key", "value": true}],
            });
            wisp.create_from("composer10", body).await?;
            true
        }
        Err(e) => {
            eprintln!("the Composer row is skipped: {e:#}");
            false
        }
    };

    // Interleaved, so the machine's load falls on all alike; one warm-up round first.
    let (mut floor, mut sequence, mut conductor) =
        (Samples::default(), Samples::default(), Samples::default());
    for i in 0..=iterations {
        let t = Instant::now();
        for _ in 0..STEPS {
            wisp.invoke(step).await?;
        }
        let f = t.elapsed();
        let t = Instant::now();
        wisp.invoke("seq10").await?;
        let s = t.elapsed();
        let c = if composer {
            let t = Instant::now();
            wisp.invoke("composer10").await?;
            Some(t.elapsed())
        } else {
            None
        };
        if i > 0 {
            floor.push(f);
            sequence.push(s);
            if let Some(c) = c {
                conductor.push(c);
            }
        }
    }
    report.record(
        "compose_floor_10_invokes",
        "floor: 10 blocking invokes of a no-op from the client",
        floor.json(),
        floor.summary_p90(),
    );
    record_steps(
        report,
        "compose_sequence10",
        "wisp: sequence of 10 no-ops",
        &sequence,
        &floor,
    );
    if composer {
        record_steps(
            report,
            "compose_composer10",
            "wisp: Composer sequence of 10 no-ops (11 conductor runs)",
            &conductor,
            &floor,
        );
    }
    Ok(())
}

/// A composition row with the platform's cost per step: (composition − floor) / 10, p50s.
fn record_steps(report: &mut Report, key: &str, label: &str, samples: &Samples, floor: &Samples) {
    let per_step = (samples.p50_us() - floor.p50_us()) / STEPS as f64;
    report.record(
        key,
        label,
        json!({"samples": samples.json(), "per_step_over_floor_us": per_step}),
        format!(
            "{} · {per_step:+.0} µs/step vs floor",
            samples.summary_p90()
        ),
    );
}

/// The conductor action `compose --js` writes for `composer.sequence(step × 10)`, with the
/// openwhisk-composer the compat suite pins (installed by `scripts/test.sh`, or here).
fn conductor_code(step: &str) -> anyhow::Result<String> {
    let compat = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/compat");
    let compose = compat.join("node_modules/openwhisk-composer/bin/compose.js");
    if !compose.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&compat)
            .status()
            .context("running npm ci for openwhisk-composer")?;
        if !status.success() {
            bail!("npm ci in tests/compat failed");
        }
    }
    let source =
        std::env::temp_dir().join(format!("wisp-bench-composer-{}.js", std::process::id()));
    let names = vec![format!("'{step}'"); STEPS].join(", ");
    std::fs::write(
        &source,
        format!("const composer = require('openwhisk-composer')\nmodule.exports = composer.sequence({names})\n"),
    )?;
    let output = Command::new("node")
        .arg(&compose)
        .arg(&source)
        .arg("--js")
        .output()
        .context("running compose")?;
    let _ = std::fs::remove_file(&source);
    if !output.status.success() {
        bail!(
            "compose failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}
