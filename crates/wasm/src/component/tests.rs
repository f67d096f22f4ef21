//! Components end to end in the engine, on the Rust fixtures under `examples/wasm/rust` (rebuilt
//! as its README says), with an in-memory `GuestState` that records which namespace it serves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wisp_core::BoxFuture;

use crate::tests::scratch;
use crate::{
    Call, Ended, Exit, GuestState, Instance, InstanceSetup, ObjectPage, Program, StateError,
    WasmConfig, WasmEngine, WasmError,
};

const PROBE: &[u8] = include_bytes!("../../../../examples/wasm/rust/probe.wasm");
const FOREIGN: &[u8] = include_bytes!("../../../../examples/wasm/rust/foreign.wasm");
const MB: u64 = 1024 * 1024;

/// Keys by (namespace, key); objects are not kept.
#[derive(Default)]
struct Memory {
    keys: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl GuestState for Memory {
    fn kv_get<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        let keys = self.keys.lock().unwrap();
        let found = keys.get(&(ns.to_string(), key.to_string())).cloned();
        Box::pin(async move { Ok(found) })
    }
    fn kv_set<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
        v: Vec<u8>,
        _: Option<u32>,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        let mut keys = self.keys.lock().unwrap();
        keys.insert((ns.to_string(), key.to_string()), v);
        Box::pin(async { Ok(()) })
    }
    fn kv_delete<'a>(
        &'a self,
        ns: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        let mut keys = self.keys.lock().unwrap();
        let existed = keys.remove(&(ns.to_string(), key.to_string())).is_some();
        Box::pin(async move { Ok(existed) })
    }
    fn kv_incr<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: i64,
    ) -> BoxFuture<'a, Result<i64, StateError>> {
        Box::pin(async { Err(StateError::NotANumber("not kept here".into())) })
    }
    fn kv_keys<'a>(
        &'a self,
        ns: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        let keys = self.keys.lock().unwrap();
        let found = keys
            .keys()
            .filter(|(n, k)| n == ns && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect();
        Box::pin(async move { Ok(found) })
    }
    fn object_get<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: u64,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StateError>> {
        Box::pin(async { Ok(None) })
    }
    fn object_put<'a>(
        &'a self,
        _: &'a str,
        k: &'a str,
        _: Vec<u8>,
        _: Option<String>,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move { Err(StateError::Invalid(format!("refused {k}"))) })
    }
    fn object_delete<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        Box::pin(async { Ok(false) })
    }
    fn object_list<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Option<&'a str>,
        _: usize,
    ) -> BoxFuture<'a, Result<ObjectPage, StateError>> {
        Box::pin(async { Ok(ObjectPage::default()) })
    }
}

/// An engine with a cache directory of its own, removed when the directory is dropped.
fn engine(name: &str) -> (WasmEngine, tempfile::TempDir) {
    let dir = scratch(&format!("c-{name}"));
    let engine = WasmEngine::new(WasmConfig {
        cache_dir: dir.path().to_path_buf(),
        max_instances: 4,
        max_memory_bytes: 512 * MB,
    })
    .unwrap();
    (engine, dir)
}

fn setup(namespace: &str, state: &Arc<Memory>) -> InstanceSetup {
    InstanceSetup {
        args: vec!["probe".into()],
        env: vec![("GREETING".into(), "hi".into())],
        namespace: namespace.into(),
        state: Some(state.clone()),
        memory_bytes: 64 * MB,
        stdout_limit: 4096,
        stderr_limit: 4096,
        timeout: Duration::from_secs(5),
    }
}

/// A new instance of `program` for `namespace`.
async fn new_instance(
    e: &WasmEngine,
    program: &Program,
    namespace: &str,
    state: &Arc<Memory>,
) -> Instance {
    e.instantiate_component(program, setup(namespace, state))
        .await
        .unwrap()
}

fn call(params: &str) -> Call {
    Call {
        params: params.into(),
        timeout: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn an_instance_keeps_its_globals_from_call_to_call() {
    let (e, _dir) = engine("globals");
    let program = e.prepare(PROBE).unwrap();
    assert!(program.is_component());
    let state = Arc::new(Memory::default());
    let mut instance = new_instance(&e, &program, "a", &state).await;
    for n in 1..=3 {
        let done = instance.handle(call("{}")).await;
        assert_eq!(done.ended, Ended::Ok(format!("{{\"activations\":{n}}}")));
    }
    let mut other = new_instance(&e, &program, "a", &state).await;
    assert_eq!(
        other.handle(call("{}")).await.ended,
        Ended::Ok("{\"activations\":1}".into())
    );
}

#[tokio::test]
async fn the_state_imports_reach_only_the_instance_namespace() {
    let (e, _dir) = engine("state");
    let program = e.prepare(PROBE).unwrap();
    let state = Arc::new(Memory::default());
    let mut a = new_instance(&e, &program, "a", &state).await;
    let mut b = new_instance(&e, &program, "b", &state).await;
    state
        .kv_set("a", "secret", b"for a".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(
        a.handle(call(r#"{"op":"get","key":"secret"}"#)).await.ended,
        Ended::Ok(r#"{"value":"for a"}"#.into())
    );
    assert_eq!(
        b.handle(call(r#"{"op":"get","key":"secret"}"#)).await.ended,
        Ended::Ok(r#"{"value":null}"#.into())
    );
    // A refusal reaches the guest as the error variant (the probe returns it as `err`).
    assert_eq!(
        a.handle(call(r#"{"op":"objects","key":"x"}"#)).await.ended,
        Ended::Err("invalid: refused x".into())
    );
}

#[tokio::test]
async fn a_trap_stops_the_instance_with_its_message_and_logs() {
    let (e, _dir) = engine("trap");
    let program = e.prepare(PROBE).unwrap();
    let state = Arc::new(Memory::default());
    let mut instance = new_instance(&e, &program, "a", &state).await;
    let done = instance.handle(call(r#"{"op":"trap"}"#)).await;
    let Ended::Stopped(Exit::Trap(message)) = &done.ended else {
        panic!("not a trap: {:?}", done.ended)
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        String::from_utf8_lossy(&done.stderr).contains("the probe was asked to trap"),
        "{:?}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(!instance.reusable());
}

#[tokio::test]
async fn limits_stop_a_loop_and_a_memory_hog() {
    let (e, _dir) = engine("limits");
    let program = e.prepare(PROBE).unwrap();
    let state = Arc::new(Memory::default());
    let mut looping = new_instance(&e, &program, "a", &state).await;
    assert_eq!(
        looping.handle(call(r#"{"op":"loop"}"#)).await.ended,
        Ended::Stopped(Exit::TimedOut)
    );
    let mut hog = new_instance(&e, &program, "a", &state).await;
    assert_eq!(
        hog.handle(call(r#"{"op":"grow"}"#)).await.ended,
        Ended::Stopped(Exit::OutOfMemory)
    );
}

#[test]
fn a_component_importing_outside_the_world_is_refused_naming_the_import() {
    let (e, _dir) = engine("foreign");
    match e.prepare(FOREIGN) {
        Err(WasmError::Invalid(message)) => {
            assert!(message.contains("acme:payments/charge"), "{message}")
        }
        other => panic!("not refused: {:?}", other.err()),
    }
}

#[test]
fn a_new_engine_loads_a_compiled_component_from_disk() {
    let dir = scratch("c-cache");
    let config = WasmConfig {
        cache_dir: dir.path().to_path_buf(),
        max_instances: 2,
        max_memory_bytes: 512 * MB,
    };
    WasmEngine::new(config.clone())
        .unwrap()
        .prepare(PROBE)
        .unwrap();
    let second = WasmEngine::new(config).unwrap();
    let loaded = second.load(PROBE).unwrap();
    assert!(loaded.loaded);
    assert_eq!(second.compilations(), 0, "deserialized, not compiled");
    assert!(loaded.program.is_component());
}

#[tokio::test]
async fn a_call_whose_future_is_dropped_leaves_the_instance_unusable() {
    let (e, _dir) = engine("dropped");
    let program = e.prepare(PROBE).unwrap();
    let state = Arc::new(Memory::default());
    let mut instance = new_instance(&e, &program, "a", &state).await;
    let mut long = call(r#"{"op":"loop"}"#);
    long.timeout = Duration::from_secs(60);
    let stopped = tokio::time::timeout(Duration::from_millis(50), instance.handle(long)).await;
    assert!(stopped.is_err(), "the loop was still running");
    assert!(!instance.reusable());
    assert_eq!(
        instance.handle(call("{}")).await.ended,
        Ended::Stopped(Exit::Failed(
            "the instance was stopped by an earlier call".into()
        ))
    );
}
