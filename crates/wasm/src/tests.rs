//! The engine end to end on the C fixtures under `examples/wasm/c` (rebuilt as its README says).

use std::time::Duration;

use crate::{Exit, Invocation, WasmConfig, WasmEngine, WasmError};

const HELLO: &[u8] = include_bytes!("../../../examples/wasm/c/hello.wasm");
const MISBEHAVE: &[u8] = include_bytes!("../../../examples/wasm/c/misbehave.wasm");
const NO_START: &[u8] = include_bytes!("../../../examples/wasm/c/no_start.wasm");
const FOREIGN: &[u8] = include_bytes!("../../../examples/wasm/c/foreign_import.wasm");
const MB: u64 = 1024 * 1024;

fn engine(dir: &std::path::Path) -> WasmEngine {
    WasmEngine::new(WasmConfig {
        cache_dir: dir.to_path_buf(),
        max_instances: 8,
        max_memory_bytes: 512 * MB,
    })
    .unwrap()
}

/// A directory of its own under the system's temporary directory, removed when dropped.
pub(crate) fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wisp-wasm-{name}-"))
        .tempdir()
        .unwrap()
}

fn invocation(params: &str) -> Invocation {
    Invocation {
        stdin: params.as_bytes().to_vec(),
        args: vec!["test".into()],
        env: vec![("GREETING".into(), "hi".into())],
        timeout: Duration::from_millis(500),
        memory_bytes: 64 * MB,
        stdout_limit: 1 << 20,
        stderr_limit: 1024,
    }
}

async fn run(engine: &WasmEngine, wasm: &[u8], params: &str) -> crate::Completion {
    let program = engine.prepare(wasm).unwrap();
    engine.run(&program, invocation(params)).await
}

#[tokio::test]
async fn hello_reads_stdin_and_writes_stdout_and_stderr() {
    let dir = scratch("hello");
    let e = engine(dir.path());
    let done = run(&e, HELLO, r#"{"name":"Ada"}"#).await;
    assert_eq!(done.exit, Exit::Code(0));
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        "{\"greeting\":\"Hello, Ada!\"}\n"
    );
    assert_eq!(String::from_utf8_lossy(&done.stderr), "greeting Ada\n");
}

#[tokio::test]
async fn exits_and_traps_are_told_apart() {
    let dir = scratch("exits");
    let e = engine(dir.path());
    assert_eq!(
        run(&e, MISBEHAVE, r#"{"mode":"exit"}"#).await.exit,
        Exit::Code(3)
    );
    let Exit::Trap(message) = run(&e, MISBEHAVE, r#"{"mode":"trap"}"#).await.exit else {
        panic!("not a trap")
    };
    assert!(message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn limits_stop_a_loop_and_a_memory_hog() {
    let dir = scratch("limits");
    let e = engine(dir.path());
    // Stopped at its deadline, not left to run: the outer bound only turns a hang into a
    // failure (how soon it stops is the benchmarks' business, not a test's).
    let looped = tokio::time::timeout(
        Duration::from_secs(60),
        run(&e, MISBEHAVE, r#"{"mode":"loop"}"#),
    )
    .await
    .expect("a looping guest is stopped");
    assert_eq!(looped.exit, Exit::TimedOut);
    assert_eq!(
        run(&e, MISBEHAVE, r#"{"mode":"grow"}"#).await.exit,
        Exit::OutOfMemory
    );
}

#[tokio::test]
async fn a_guest_sees_no_files_and_only_its_environment() {
    let dir = scratch("sandbox");
    let e = engine(dir.path());
    let read = run(&e, MISBEHAVE, r#"{"mode":"read"}"#).await;
    assert!(String::from_utf8_lossy(&read.stdout).contains("\"opened\":false"));
    let env = run(&e, MISBEHAVE, r#"{"mode":"env"}"#).await;
    let text = String::from_utf8_lossy(&env.stdout);
    assert!(
        text.contains("\"home\":\"\"") && text.contains("\"greeting\":\"hi\""),
        "{text}"
    );
}

#[tokio::test]
async fn a_log_flood_is_cut_not_fatal() {
    let dir = scratch("flood");
    let e = engine(dir.path());
    // Each line is a host call (stderr is unbuffered): slow in a debug build.
    let mut flood = invocation(r#"{"mode":"flood"}"#);
    flood.timeout = Duration::from_secs(30);
    let done = e.run(&e.prepare(MISBEHAVE).unwrap(), flood).await;
    assert_eq!(done.exit, Exit::Code(0));
    assert_eq!(done.stderr.len(), 1024);
    assert!(done.stderr_dropped > 400_000);
    assert!(String::from_utf8_lossy(&done.stdout).contains("flooded"));
}

#[test]
fn bad_binaries_are_refused_with_the_reason() {
    let dir = scratch("bad");
    let e = engine(dir.path());
    let message = |wasm: &[u8]| match e.prepare(wasm) {
        Err(WasmError::Invalid(m)) => m,
        other => panic!("not refused: {:?}", other.err()),
    };
    assert!(message(b"not wasm at all").contains("not a WebAssembly binary"));
    assert!(message(b"\0asm\x01\0\0\0\x01\x02").contains("not valid WebAssembly"));
    assert!(message(NO_START).contains("no `_start`"));
    assert!(message(FOREIGN).contains("`env::launch_missiles`"));
}

#[tokio::test]
async fn a_new_engine_loads_compiled_modules_from_disk() {
    let dir = scratch("cache");
    let first = engine(dir.path());
    first.prepare(HELLO).unwrap();
    assert_eq!(first.compilations(), 1);
    assert!(
        !first.load(HELLO).unwrap().loaded,
        "second load is from memory"
    );
    let second = engine(dir.path());
    let loaded = second.load(HELLO).unwrap();
    assert!(loaded.loaded);
    assert_eq!(
        second.compilations(),
        0,
        "restart deserializes, never compiles"
    );
    assert_eq!(
        second.run(&loaded.program, invocation("{}")).await.exit,
        Exit::Code(0)
    );
}

/// A guest that computes yields to the executor at every epoch tick: on a runtime with one
/// thread, other tasks keep running while it loops, and it still stops at its deadline.
#[tokio::test(flavor = "current_thread")]
async fn a_computing_guest_shares_its_thread() {
    let dir = scratch("shares");
    let e = engine(dir.path());
    let program = e.prepare(MISBEHAVE).unwrap();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let done = e.run(&program, invocation(r#"{"mode":"loop"}"#)).await;
    counter.abort();
    assert_eq!(done.exit, Exit::TimedOut);
    // The other task is aborted as soon as the run returns: had the guest held the thread
    // for its whole 500 ms, it would never have ticked. Any count above one shows sharing;
    // how many depends on the machine's load, so the test does not ask for more.
    let ticked = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(ticked >= 2, "the other task ran {ticked} times");
}
