//! The rest of the OpenWhisk model: a web action against the same action through the REST API,
//! and the time from a trigger fire to the start of its rule's action.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::Report;
use crate::server::{Via, Wisp};
use crate::stats::Samples;
use crate::NOOP_NODE;

/// One web-exported no-op action, called through both doors in the same run.
pub async fn web_vs_api(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let name = "noop-web";
    wisp.create_web(name, "nodejs:20", NOOP_NODE).await?;

    let api = wisp.latencies(name, Via::Api, iterations).await?;
    let web = wisp.latencies(name, Via::Web, iterations).await?;
    report.record(
        "web_api_c1",
        "wisp: nodejs:20 web-exported, REST API, c=1",
        api.json(),
        api.summary(),
    );
    let row = ("web_c1", "wisp: nodejs:20 web action, c=1");
    record_against(report, row, &web, web.summary(), (&api, "REST API"));

    // Two alternating halves each, so a change in the machine's load falls on both doors.
    let (mut api, mut web) = (0.0, 0.0);
    for _ in 0..2 {
        api += wisp.throughput(name, Via::Api, 32, seconds / 2).await? / 2.0;
        web += wisp.throughput(name, Via::Web, 32, seconds / 2).await? / 2.0;
    }
    report.record(
        "web_api_c32",
        "wisp: nodejs:20 web-exported, REST API, c=32",
        json!(api),
        format!("{api:.0}/s"),
    );
    let ratio = web / api;
    report.record(
        "web_c32",
        "wisp: nodejs:20 web action, c=32",
        json!({"per_second": web, "ratio": ratio}),
        format!("{web:.0}/s ({ratio:.2}x REST API)"),
    );
    Ok(())
}

/// Fires not measured while the rule's action gets its first process.
const WARM_UP: usize = 5;

/// Sequential fires of a trigger with one rule to a no-op action, each followed by the floor:
/// the same action invoked non-blocking directly. Alternating the two lets both see the same
/// machine; sequential calls keep one warm process serving both.
pub async fn trigger_to_start(
    wisp: &Wisp,
    report: &mut Report,
    fires: usize,
    cap: Duration,
) -> anyhow::Result<()> {
    let (action, trigger) = ("noop-rule", "bench-trigger");
    wisp.create(action, "nodejs:20", NOOP_NODE).await?;
    wisp.create_trigger(trigger).await?;
    wisp.create_rule("bench-rule", trigger, action).await?;

    let (mut fired, mut direct) = (Samples::default(), Samples::default());
    let began = Instant::now();
    for i in 0..WARM_UP + fires {
        if began.elapsed() > cap {
            break;
        }
        let via_trigger = wisp.fire_to_start(trigger).await?;
        let via_invoke = wisp.invoke_to_start(action).await?;
        if i >= WARM_UP {
            fired.push_us(via_trigger);
            direct.push_us(via_invoke);
        }
    }

    report.record(
        "trigger_floor_invoke_to_start",
        "floor: nodejs:20 non-blocking invoke → action start",
        direct.json(),
        direct.summary_p90(),
    );
    let row = (
        "trigger_fire_to_start",
        "wisp: nodejs:20 trigger fire → rule action start",
    );
    record_against(report, row, &fired, fired.summary_p90(), (&direct, "floor"));
    Ok(())
}

/// A latency row shown with its p50 as a multiple of `base`'s; the JSON holds the samples and
/// that ratio, `p50_ratio`.
fn record_against(
    report: &mut Report,
    (key, label): (&str, &str),
    samples: &Samples,
    shown: String,
    (base, base_name): (&Samples, &str),
) {
    let ratio = samples.p50_us() / base.p50_us();
    report.record(
        key,
        label,
        json!({"samples": samples.json(), "p50_ratio": ratio}),
        format!("{shown} ({ratio:.2}x {base_name} p50)"),
    );
}
