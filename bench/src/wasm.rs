//! The `wasm` kind's rows: the C hello guest through the API (warm at c=1 and c=32, first
//! invoke after create, create with its compile) and, as its floor, the same guest run by the
//! wasm engine in this process (a fresh instance and one request; instantiation alone). The
//! Node.js kind's rows of the same run are the comparison. Then the JS hello component
//! (`examples/wasm/js/greet.wasm`, QuickJS): its floors in this process (instantiation, a fresh
//! instance + one call, a call on a warm instance), its create with its compile, and through
//! the API with a fresh instance per activation (`wasm-fresh-instance: true`); its warm rows
//! are beside workerd's (`workerd.rs`). Last, the no-op guests (`noop.c` as a command, `noop.js`
//! as a component, both answering `{}`): their floors in this process and warm invokes at c=1
//! and c=32.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use wisp_wasm::{Call, Ended, InstanceSetup, Invocation, WasmConfig, WasmEngine};

use crate::report::Report;
use crate::server::{Via, Wisp};
use crate::stats::Samples;
use crate::workerd::HELLO_COMPONENT;

const HELLO: &[u8] = include_bytes!("../../examples/wasm/c/hello.wasm");
const NOOP: &[u8] = include_bytes!("../../examples/wasm/c/noop.wasm");
const NOOP_COMPONENT: &[u8] = include_bytes!("../../examples/wasm/js/noop.wasm");

pub async fn rows(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
    cold: usize,
) -> anyhow::Result<()> {
    let (instantiate, request) = in_process(HELLO, iterations).await?;
    report.record(
        "wasm_floor_instantiate",
        "floor: wasm C hello instantiation alone (in-process)",
        instantiate.json(),
        instantiate.summary(),
    );
    report.record(
        "wasm_floor_request",
        "floor: wasm C hello fresh instance + request (in-process)",
        request.json(),
        request.summary(),
    );

    let code = base64::engine::general_purpose::STANDARD.encode(HELLO);
    let creates = compiling_creates(wisp, "wasm-compile", HELLO, 5).await?;
    report.record(
        "wasm_create_compile",
        "wisp: wasm C hello create (validate + compile + cache)",
        creates.json(),
        creates.summary(),
    );

    wisp.create("hello-wasm", "wasm", &code).await?;
    let warm = wisp.latencies("hello-wasm", Via::Api, iterations).await?;
    report.record(
        "wasm_warm_c1",
        "wisp: wasm C hello invoke, c=1",
        warm.json(),
        warm.summary(),
    );
    let overhead = warm.p50_us() - request.p50_us();
    report.record(
        "wasm_overhead_p50_us",
        "wisp: wasm platform overhead p50",
        json!(overhead),
        format!("{overhead:.0} µs over the in-process floor"),
    );
    let tput = wisp.throughput("hello-wasm", Via::Api, 32, seconds).await?;
    report.record(
        "wasm_warm_c32",
        "wisp: wasm C hello throughput, c=32",
        json!(tput),
        format!("{tput:.0}/s"),
    );
    let firsts = first_invokes(wisp, &code, "first-wasm", "hello-wasm", cold).await?;
    first_invoke_rows(report, "wasm", "C hello", &firsts);
    js_rows(wisp, report, iterations, seconds, cold).await?;
    noop_rows(wisp, report, iterations, seconds).await
}

/// The no-op guests: a command and a component that answer `{}`.
async fn noop_rows(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
) -> anyhow::Result<()> {
    let (instantiate, request) = in_process(NOOP, iterations).await?;
    let js = js_in_process(NOOP_COMPONENT, "{}", iterations).await?;
    for (key, what, samples) in [
        ("c_instantiate", "C no-op instantiation alone", &instantiate),
        ("c_request", "C no-op fresh instance + request", &request),
        (
            "js_instantiate",
            "JS component no-op instantiation alone",
            &js.instantiate,
        ),
        (
            "js_warm_call",
            "JS component no-op call on a warm instance",
            &js.warm_call,
        ),
    ] {
        report.record(
            &format!("wasm_noop_floor_{key}"),
            &format!("floor: wasm {what} (in-process)"),
            samples.json(),
            samples.summary(),
        );
    }
    let guests = [
        ("c", "C no-op", NOOP, &request),
        ("js", "JS component no-op", NOOP_COMPONENT, &js.warm_call),
    ];
    for (key, what, wasm, floor) in guests {
        let action = format!("noop-wasm-{key}");
        let code = base64::engine::general_purpose::STANDARD.encode(wasm);
        wisp.create(&action, "wasm", &code).await?;
        let c1 = wisp.latencies(&action, Via::Api, iterations).await?;
        let over = c1.p50_us() - floor.p50_us();
        report.record(
            &format!("wasm_noop_{key}_c1"),
            &format!("wisp: wasm {what} invoke, c=1"),
            c1.json(),
            format!("{} ({over:.0} µs over its in-process floor)", c1.summary()),
        );
        let c32 = wisp.throughput(&action, Via::Api, 32, seconds).await?;
        report.record(
            &format!("wasm_noop_{key}_c32"),
            &format!("wisp: wasm {what} throughput, c=32"),
            json!(c32),
            format!("{c32:.0}/s"),
        );
    }
    Ok(())
}

/// The first-invoke rows of `guest`, each beside its floor; keys start with `key`.
fn first_invoke_rows(report: &mut Report, key: &str, guest: &str, firsts: &FirstInvokes) {
    let rows = [
        (
            "first_invoke_now",
            "right after create",
            "right after a create",
            &firsts.now,
            &firsts.now_floor,
        ),
        (
            "first_invoke",
            "after create + 400 ms",
            "after a 400 ms pause",
            &firsts.paused,
            &firsts.paused_floor,
        ),
    ];
    for (row, what, floor_what, first, floor) in rows {
        report.record(
            &format!("{key}_{row}_floor"),
            &format!("floor: wasm {guest} warm invoke {floor_what}"),
            floor.json(),
            floor.summary(),
        );
        let ratio = first.p50_us() / floor.p50_us();
        let mut value = first.json();
        value["vs_floor"] = json!(ratio);
        report.record(
            &format!("{key}_{row}"),
            &format!("wisp: wasm {guest} first invoke {what}"),
            value,
            format!("{} ({ratio:.2}x floor)", first.summary()),
        );
    }
}

/// The JS hello component's rows: in-process floors, create, first invokes (each a new
/// instance: its QuickJS starts), fresh instances through the API.
async fn js_rows(
    wisp: &Wisp,
    report: &mut Report,
    iterations: usize,
    seconds: Duration,
    cold: usize,
) -> anyhow::Result<()> {
    let floors = js_in_process(HELLO_COMPONENT, "Hello, bench!", iterations).await?;
    for (key, what, samples) in [
        ("instantiate", "instantiation alone", &floors.instantiate),
        ("fresh_call", "fresh instance + call", &floors.fresh_call),
        ("warm_call", "call on a warm instance", &floors.warm_call),
    ] {
        report.record(
            &format!("wasm_js_floor_{key}"),
            &format!("floor: wasm JS component hello {what} (in-process)"),
            samples.json(),
            samples.summary(),
        );
    }

    let creates = compiling_creates(wisp, "wasm-js-compile", HELLO_COMPONENT, 3).await?;
    report.record(
        "wasm_js_create_compile",
        "wisp: wasm JS component create (validate + compile + cache)",
        creates.json(),
        creates.summary(),
    );

    let code = base64::engine::general_purpose::STANDARD.encode(HELLO_COMPONENT);
    // The floor's action, warm: its instance is made by the latencies' warm-up call.
    wisp.create("hello-js", "wasm", &code).await?;
    wisp.latencies("hello-js", Via::Api, 10).await?;
    let firsts = first_invokes(wisp, &code, "first-js", "hello-js", cold).await?;
    first_invoke_rows(report, "wasm_js", "JS component hello", &firsts);

    let fresh = "hello-js-fresh";
    let annotations = json!([{"key": "wasm-fresh-instance", "value": true}]);
    wisp.create_from(
        fresh,
        json!({"exec": {"kind": "wasm", "code": code}, "annotations": annotations}),
    )
    .await?;
    let c1 = wisp.latencies(fresh, Via::Api, iterations).await?;
    let over = c1.p50_us() - floors.fresh_call.p50_us();
    report.record(
        "wasm_js_fresh_c1",
        "wisp: wasm JS component, fresh instance per activation, c=1",
        c1.json(),
        format!("{} ({over:.0} µs over its in-process floor)", c1.summary()),
    );
    let c32 = wisp.throughput(fresh, Via::Api, 32, seconds).await?;
    report.record(
        "wasm_js_fresh_c32",
        "wisp: wasm JS component, fresh instance per activation, c=32",
        json!(c32),
        format!("{c32:.0}/s"),
    );
    Ok(())
}

/// A JS component in this process.
struct JsFloors {
    instantiate: Samples,
    fresh_call: Samples,
    warm_call: Samples,
}

/// `component`'s floors, each call checked to answer with `expected` in its result.
async fn js_in_process(
    component: &[u8],
    expected: &str,
    iterations: usize,
) -> anyhow::Result<JsFloors> {
    let engine = FloorEngine::new("js")?;
    let program = engine.prepare(component)?;
    let setup = || InstanceSetup {
        args: vec!["hello".into()],
        env: Vec::new(),
        namespace: "bench".into(),
        state: None,
        memory_bytes: 256 << 20,
        stdout_limit: 1 << 20,
        stderr_limit: 1 << 20,
        timeout: Duration::from_secs(60),
    };
    let call = || Call {
        params: crate::server::PARAMS.into(),
        timeout: Duration::from_secs(60),
    };
    let answered = |ended: &Ended| {
        anyhow::ensure!(
            matches!(ended, Ended::Ok(text) if text.contains(expected)),
            "the component answered {ended:?}"
        );
        Ok(())
    };
    let failed = |h: wisp_wasm::Handled| anyhow::anyhow!("instantiation failed: {:?}", h.ended);
    let mut floors = JsFloors {
        instantiate: Samples::default(),
        fresh_call: Samples::default(),
        warm_call: Samples::default(),
    };
    let mut warm = engine
        .instantiate_component(&program, setup())
        .await
        .map_err(failed)?;
    // The first rounds warm the allocator's slots and caches; a quarter of the iterations is
    // enough for the slower fresh rows.
    let fresh_iterations = iterations.div_ceil(4);
    for i in 0..fresh_iterations + 20 {
        let t = Instant::now();
        engine.instantiate(&program).await?;
        let instantiated = t.elapsed();
        let t = Instant::now();
        let mut instance = engine
            .instantiate_component(&program, setup())
            .await
            .map_err(failed)?;
        answered(&instance.handle(call()).await.ended)?;
        let called = t.elapsed();
        drop(instance);
        if i >= 20 {
            floors.instantiate.push(instantiated);
            floors.fresh_call.push(called);
        }
    }
    for i in 0..iterations + 100 {
        let t = Instant::now();
        answered(&warm.handle(call()).await.ended)?;
        if i >= 100 {
            floors.warm_call.push(t.elapsed());
        }
    }
    drop(warm);
    Ok(floors)
}

/// First invokes of newly created actions, each beside its floor: a warm invoke of another
/// action of the same code in the same circumstances.
struct FirstInvokes {
    /// Sent as soon as the create is answered.
    now: Samples,
    /// A warm invoke sent as soon as another action's create is answered.
    now_floor: Samples,
    /// Sent after the pause the other kinds' cold starts get (their stem cells refill).
    paused: Samples,
    /// A warm invoke after the same pause: an idle server's threads and caches cool in that
    /// time, whatever the action.
    paused_floor: Samples,
}

async fn first_invokes(
    wisp: &Wisp,
    code: &str,
    prefix: &str,
    warm: &str,
    count: usize,
) -> anyhow::Result<FirstInvokes> {
    let pause = Duration::from_millis(400);
    let timed = |name: String| async move {
        let t = Instant::now();
        wisp.invoke(&name).await.map(|()| t.elapsed())
    };
    let mut s = FirstInvokes {
        now: Samples::default(),
        now_floor: Samples::default(),
        paused: Samples::default(),
        paused_floor: Samples::default(),
    };
    for i in 0..count {
        // A sample and its floor swap places every round, so that neither is always the one
        // that follows the previous round's idle pause.
        let swap = i % 2 == 1;
        for measure_first in [!swap, swap] {
            let (name, target) = match measure_first {
                true => (format!("{prefix}-{i}"), format!("{prefix}-{i}")),
                false => (format!("{prefix}-{i}-other"), warm.to_string()),
            };
            wisp.create(&name, "wasm", code).await?;
            let took = timed(target).await?;
            match measure_first {
                true => s.now.push(took),
                false => s.now_floor.push(took),
            }
        }
        for measure_first in [!swap, swap] {
            let target = match measure_first {
                true => {
                    let name = format!("{prefix}-{i}-paused");
                    wisp.create(&name, "wasm", code).await?;
                    name
                }
                false => warm.to_string(),
            };
            tokio::time::sleep(pause).await;
            let took = timed(target).await?;
            match measure_first {
                true => s.paused.push(took),
                false => s.paused_floor.push(took),
            }
        }
    }
    Ok(s)
}

/// Instantiation alone and a fresh instance with one request of the command `wasm`,
/// `iterations` each.
async fn in_process(wasm: &[u8], iterations: usize) -> anyhow::Result<(Samples, Samples)> {
    let engine = FloorEngine::new("command")?;
    let program = engine.prepare(wasm)?;
    let invocation = Invocation {
        stdin: crate::server::PARAMS.as_bytes().to_vec(),
        args: vec!["hello".into()],
        env: Vec::new(),
        timeout: Duration::from_secs(60),
        memory_bytes: 256 << 20,
        stdout_limit: 1 << 20,
        stderr_limit: 10 << 20,
    };
    let mut instantiate = Samples::default();
    let mut request = Samples::default();
    for i in 0..iterations + 100 {
        let t = Instant::now();
        engine.instantiate(&program).await?;
        let instantiated = t.elapsed();
        let t = Instant::now();
        let done = engine.run(&program, invocation.clone()).await;
        let requested = t.elapsed();
        anyhow::ensure!(
            done.exit == wisp_wasm::Exit::Code(0),
            "the guest failed: {:?}",
            done.exit
        );
        // The first hundred warm the allocator's slots and caches.
        if i >= 100 {
            instantiate.push(instantiated);
            request.push(requested);
        }
    }
    Ok((instantiate, request))
}

/// The floors' own wasm engine, in this process; its artifact cache is removed when it is
/// dropped.
struct FloorEngine {
    engine: WasmEngine,
    dir: std::path::PathBuf,
}

impl FloorEngine {
    fn new(tag: &str) -> anyhow::Result<FloorEngine> {
        let dir =
            std::env::temp_dir().join(format!("wisp-bench-wasm-{tag}-{}", std::process::id()));
        let engine = WasmEngine::new(WasmConfig {
            cache_dir: dir.clone(),
            max_instances: 64,
            max_memory_bytes: 512 << 20,
        })?;
        Ok(FloorEngine { engine, dir })
    }
}

impl std::ops::Deref for FloorEngine {
    type Target = WasmEngine;
    fn deref(&self) -> &WasmEngine {
        &self.engine
    }
}

impl Drop for FloorEngine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long `count` creates of `wasm` take, each of a different module (a custom section of
/// its own), so that each create compiles.
async fn compiling_creates(
    wisp: &Wisp,
    prefix: &str,
    wasm: &[u8],
    count: u8,
) -> anyhow::Result<Samples> {
    let mut creates = Samples::default();
    for i in 0..count {
        let mut bytes = wasm.to_vec();
        bytes.extend_from_slice(&custom_section(i));
        let code = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let t = Instant::now();
        wisp.create(&format!("{prefix}-{i}"), "wasm", &code).await?;
        creates.push(t.elapsed());
    }
    Ok(creates)
}

/// A custom section named `wisp-bench` holding `i`.
fn custom_section(i: u8) -> Vec<u8> {
    let name = b"wisp-bench";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.push(i);
    let mut section = vec![0u8, payload.len() as u8];
    section.extend(payload);
    section
}
