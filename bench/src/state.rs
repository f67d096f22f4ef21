//! Declared state against state fetched by hand: the same counter, once declared (the
//! platform loads `counter` into `__state` and writes back what the function returns) and
//! once with `@nimbella/sdk`'s `redis()` as Nimbella's users wrote it (a client per call,
//! INCR). The floor is a warm no-op invoke measured in the same stretch of the run.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use crate::report::Report;
use crate::server::{Via, Wisp};
use crate::stats::Samples;

const DECLARED: &str = r#"
function main(args) {
  const next = (args.__state.keys.counter || 0) + 1;
  return { count: next, __state: { keys: { counter: next } } };
}"#;

const BY_HAND: &str = r#"
const nim = require('@nimbella/sdk');
async function main() {
  const kv = nim.redis();
  const count = await kv.incrAsync('sdk-counter');
  kv.quit();
  return { count };
}
exports.main = main;"#;

/// Looks at its declared file without reading it: what is measured is getting the file there.
const FILE_USER: &str = r#"
const fs = require('fs');
function main(args) {
  const path = args.__state ? args.__state.files['models/big.bin'] : process.execPath;
  return { size: fs.statSync(path).size };
}"#;

const FILE_MB: usize = 50;

/// The SDK as `scripts/test.sh` installs it for the tests.
const SDK_MODULES: &str = "tests/fixtures/nimbella-sdk/node_modules";

pub async fn declared_vs_sdk(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
) -> anyhow::Result<()> {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SDK_MODULES);
    if !modules.is_dir() {
        eprintln!("the declared-state rows are skipped: run scripts/test.sh once to install {SDK_MODULES}");
        return Ok(());
    }
    wisp.create("state-floor", "nodejs:20", crate::NOOP_NODE)
        .await?;
    let annotations = json!([{"key": "state", "value": {"write": ["counter"]}}]);
    wisp.create_from(
        "declared-counter",
        json!({"exec": {"kind": "nodejs:20", "code": DECLARED}, "annotations": annotations}),
    )
    .await?;
    let zip = zip_with_modules(BY_HAND, &modules)?;
    wisp.create_from(
        "sdk-counter",
        json!({"exec": {"kind": "nodejs:20", "code": zip, "binary": true}}),
    )
    .await?;

    // Interleaved rounds, so a noisy neighbour costs each the same.
    let (mut floor, mut declared, mut by_hand) =
        (Samples::default(), Samples::default(), Samples::default());
    let n = (iterations / 4).max(1);
    for _ in 0..4 {
        floor.append(wisp.latencies("state-floor", Via::Api, n).await?);
        declared.append(wisp.latencies("declared-counter", Via::Api, n).await?);
        by_hand.append(wisp.latencies("sdk-counter", Via::Api, n).await?);
    }
    report.record(
        "state_floor_c1",
        "floor: nodejs:20 no-op warm invoke, c=1",
        floor.json(),
        floor.summary(),
    );
    let ratio = declared.p50_us() / by_hand.p50_us();
    report.record(
        "state_declared_counter_c1",
        "wisp: declared counter, c=1",
        json!({"samples": declared.json(), "ratio_to_sdk": ratio}),
        format!(
            "{} ({:.2}x the SDK's p50, +{:.0} µs over the floor)",
            declared.summary(),
            ratio,
            declared.p50_us() - floor.p50_us()
        ),
    );
    report.record(
        "state_sdk_counter_c1",
        "wisp: @nimbella/sdk redis() INCR counter, c=1",
        by_hand.json(),
        format!(
            "{} (+{:.0} µs over the floor)",
            by_hand.summary(),
            by_hand.p50_us() - floor.p50_us()
        ),
    );
    Ok(())
}

/// A base64 zip of `index.js` and the SDK's `node_modules`.
fn zip_with_modules(index: &str, modules: &Path) -> anyhow::Result<String> {
    use base64::Engine;
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("index.js", options)?;
    writer.write_all(index.as_bytes())?;
    let mut stack = vec![modules.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| dir.display().to_string())? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                let relative = path.strip_prefix(modules)?.to_string_lossy().into_owned();
                writer.start_file(format!("node_modules/{relative}"), options)?;
                writer.write_all(&std::fs::read(&path)?)?;
            }
        }
    }
    writer.finish()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buffer.into_inner()))
}

/// The first and the following invocations of a function declaring a 50 MB file, against the
/// same function declaring nothing (its first invocation is a cold start too).
pub async fn declared_file(wisp: &Wisp, report: &mut Report, later: usize) -> anyhow::Result<()> {
    let bytes: Vec<u8> = (0..FILE_MB << 20).map(|i| (i % 251) as u8).collect();
    wisp.put_object("models/big.bin", bytes).await?;
    wisp.create("file-floor", "nodejs:20", FILE_USER).await?;
    let annotations = json!([{"key": "state", "value": {"files": ["models/big.bin"]}}]);
    wisp.create_from(
        "file-declared",
        json!({"exec": {"kind": "nodejs:20", "code": FILE_USER}, "annotations": annotations}),
    )
    .await?;
    let first_of = |name: &'static str| async move {
        let started = std::time::Instant::now();
        wisp.invoke(name).await.map(|()| started.elapsed())
    };
    let floor_first = first_of("file-floor").await?;
    let first = first_of("file-declared").await?;
    // Later invokes in interleaved rounds, so a noisy neighbour costs each the same.
    let (mut floor_rest, mut rest) = (Samples::default(), Samples::default());
    for _ in 0..4 {
        floor_rest.append(wisp.latencies("file-floor", Via::Api, later / 4).await?);
        rest.append(wisp.latencies("file-declared", Via::Api, later / 4).await?);
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    report.record(
        "state_file_floor_first",
        "floor: first invoke, no declared file (cold start)",
        json!({"ms": ms(floor_first)}),
        format!("{:.1} ms", ms(floor_first)),
    );
    report.record(
        "state_file_first",
        &format!("wisp: first invoke declaring a {FILE_MB} MB file"),
        json!({"ms": ms(first), "over_floor_ms": ms(first) - ms(floor_first)}),
        format!(
            "{:.1} ms (+{:.1} ms over the floor: the fetch)",
            ms(first),
            ms(first) - ms(floor_first)
        ),
    );
    report.record(
        "state_file_floor_later",
        "floor: later invokes, no declared file",
        floor_rest.json(),
        floor_rest.summary(),
    );
    let ratio = rest.p50_us() / floor_rest.p50_us();
    report.record(
        "state_file_later",
        &format!("wisp: later invokes declaring a {FILE_MB} MB file"),
        json!({"samples": rest.json(), "ratio_to_floor": ratio}),
        format!("{} ({ratio:.2}x the floor's p50)", rest.summary()),
    );
    Ok(())
}
