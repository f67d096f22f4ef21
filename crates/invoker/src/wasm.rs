//! `wasm` actions: no process, no stem cell. A WASI preview-1 command runs each activation in a
//! fresh instance of the action's compiled module in the wasm engine (`crates/wasm`, the only
//! crate that knows wasmtime); this file turns an activation into an engine invocation and what
//! the guest wrote into an outcome. A component goes to `wasm_component.rs`, which keeps warm
//! instances.
//!
//! Code is compiled when the action is written (`prepare`), and the program kept under that
//! revision; an activation only looks its program up, by revision, and loads it from the
//! engine's disk cache the first time after a restart (that load is the activation's
//! `initTime`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::Value;
use wisp_core::time::now_ms;
use wisp_core::{Action, ActivationResponse, CodeExec, Outcome};
use wisp_wasm::{
    Completion, Exit, GuestState, Instance, Invocation, Program, WasmConfig, WasmEngine, WasmError,
};

use crate::logs::{LogBuffer, Stream};
use crate::pool::Inner;
use crate::wasm_pool::InstancePool;
use crate::{CodeError, InvokeError, InvokerConfig, RunOutcome, RunRequest, StartKind};

const MB: u64 = 1024 * 1024;
/// How long past its timeout an activation waits for a guest stuck in a host call (where the
/// epoch deadline cannot stop it) before it is stopped and reported as timed out regardless.
const BACKSTOP: Duration = Duration::from_secs(1);

pub(crate) struct Wasm {
    /// Made on first use: the pooling allocator reserves address space for every slot, which a
    /// server without wasm actions should not pay for.
    engine: OnceLock<Result<WasmEngine, WasmError>>,
    config: WasmConfig,
    /// Programs by action revision, so that an activation never hashes or decodes its code.
    programs: Mutex<HashMap<String, Arc<Program>>>,
    /// The instance slots, and the warm component instances idling in them: activations past
    /// the pool's size wait there, not fail.
    pub(crate) pool: InstancePool<Instance>,
    /// What components' `kv` and `objects` imports reach (given to `Invoker::new`).
    state: Option<Arc<dyn GuestState>>,
}

impl Wasm {
    pub(crate) fn new(config: &InvokerConfig, state: Option<Arc<dyn GuestState>>) -> Wasm {
        Wasm {
            engine: OnceLock::new(),
            config: WasmConfig {
                cache_dir: config.runtime_dir.join("wasm"),
                max_instances: config.wasm_instances,
                max_memory_bytes: config.wasm_max_memory_mb * MB,
            },
            programs: Mutex::new(HashMap::new()),
            pool: InstancePool::new(
                config.wasm_instances,
                config.wasm_idle_instances,
                config.idle_timeout,
            ),
            state,
        }
    }

    pub(crate) fn engine(&self) -> Result<&WasmEngine, WasmError> {
        self.engine
            .get_or_init(|| WasmEngine::new(self.config.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub(crate) fn shutdown(&self) {
        self.pool.close();
    }

    pub(crate) fn state(&self) -> Option<Arc<dyn GuestState>> {
        self.state.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Program>>> {
        self.programs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Validates and compiles a `wasm` action's code (at create/update); other kinds pass. The
/// program is kept under the revision being written, so that its first invoke finds it as a
/// warm one does: no decoding, hashing or extra thread hop on the invoke path.
pub(crate) async fn prepare(inner: &Arc<Inner>, action: &Action) -> Result<(), CodeError> {
    let Some(exec) = action
        .exec
        .code()
        .filter(|c| c.kind == wisp_core::Kind::Wasm)
    else {
        return Ok(());
    };
    let bytes = decode(exec).map_err(CodeError::Invalid)?;
    let inner2 = inner.clone();
    let compiled = tokio::task::spawn_blocking(move || inner2.wasm.engine()?.prepare(&bytes))
        .await
        .map_err(|e| CodeError::Engine(e.to_string()))?;
    let program = compiled.map_err(|e| match e {
        WasmError::Invalid(message) => CodeError::Invalid(message),
        WasmError::Engine(message) => CodeError::Engine(message),
    })?;
    // A write that then fails leaves an entry no activation asks for: harmless.
    inner.wasm.lock().insert(action.revision_key(), program);
    Ok(())
}

fn decode(exec: &CodeExec) -> Result<Vec<u8>, String> {
    let bytes = if exec.binary {
        base64::engine::general_purpose::STANDARD
            .decode(exec.code.trim())
            .ok()
    } else {
        None
    };
    bytes.ok_or_else(|| "the code of a wasm action must be the base64 of a .wasm file".into())
}

pub(crate) async fn run(inner: &Arc<Inner>, req: RunRequest) -> Result<RunOutcome, InvokeError> {
    let code = req.action.exec.code().ok_or(InvokeError::NotRunnable)?;
    if crate::wasm_component::is_component(&code.code) {
        return crate::wasm_component::run(inner, req).await;
    }
    let limits = req.action.limits;
    let timeout = Duration::from_millis(limits.timeout);
    // Waiting for a slot counts against the activation's time, as in the process pool.
    let slot = inner.wasm.pool.slot(timeout).await?;
    let start = now_ms();
    let (program, init_time) = match program(inner, &req).await {
        Ok(found) => found,
        Err(message) => {
            let kind = StartKind::Cold;
            return Ok(RunOutcome::failure(
                Outcome::DeveloperError,
                message,
                start,
                None,
                kind,
            ));
        }
    };
    let invocation = invocation(inner, &req);
    let engine = inner
        .wasm
        .engine()
        .expect("the program came from this engine");
    // The guest runs here, on this activation's task: the engine stops it at its timeout;
    // past that and the backstop (a host call that does not return), the future is dropped,
    // which stops it too.
    let completion = tokio::time::timeout(timeout + BACKSTOP, engine.run(&program, invocation))
        .await
        .unwrap_or_else(|_| Completion {
            exit: Exit::TimedOut,
            stdout: Vec::new(),
            stdout_dropped: 0,
            stderr: Vec::new(),
            stderr_dropped: 0,
        });
    drop(slot);
    let log_limit = (limits.logs * MB) as usize;
    let (response, logs) = classify(
        completion.clone(),
        limits.timeout,
        limits.memory,
        inner.config.max_result_bytes,
        log_limit,
    );
    Ok(RunOutcome {
        response,
        logs,
        start,
        end: now_ms(),
        init_time,
        timed_out: completion.exit == Exit::TimedOut,
        start_kind: if init_time.is_some() {
            StartKind::Cold
        } else {
            StartKind::Warm
        },
    })
}

/// The action revision's program, and the milliseconds it took when it had to be loaded from
/// the engine's disk cache (or, for code written before this server had an engine, compiled).
pub(crate) async fn program(
    inner: &Arc<Inner>,
    req: &RunRequest,
) -> Result<(Arc<Program>, Option<u64>), String> {
    let key = req.action.revision_key();
    if let Some(program) = inner.wasm.lock().get(&key) {
        return Ok((program.clone(), None));
    }
    let exec = req
        .action
        .exec
        .code()
        .ok_or("the action has no code")?
        .clone();
    let started = Instant::now();
    let inner2 = inner.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let bytes = decode(&exec)?;
        let engine = inner2.wasm.engine().map_err(|e| e.to_string())?;
        engine.load(&bytes).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("Initialization has failed due to: {e}"))?;
    let init_time = loaded.loaded.then(|| started.elapsed().as_millis() as u64);
    inner.wasm.lock().insert(key, loaded.program.clone());
    Ok((loaded.program, init_time))
}

/// The action's init parameters as environment variables (a string as it is, any other value
/// as its JSON), for commands and components alike.
pub(crate) fn init_variables(req: &RunRequest) -> Vec<(String, String)> {
    req.init_env
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// The guest's stdin, argv and environment: the run arguments, and as variables only the
/// action's init parameters and OpenWhisk's `__OW_*` context.
fn invocation(inner: &Inner, req: &RunRequest) -> Invocation {
    let action = &req.action;
    let name = action.path.fully_qualified();
    let mut env = init_variables(req);
    let deadline = now_ms() + action.limits.timeout;
    let context = [
        ("__OW_ACTIVATION_ID", req.activation_id.to_string()),
        ("__OW_NAMESPACE", req.namespace.clone()),
        ("__OW_ACTION_NAME", name.clone()),
        ("__OW_ACTION_VERSION", action.version.to_string()),
        ("__OW_DEADLINE", deadline.to_string()),
        ("__OW_TRANSACTION_ID", req.transaction_id.clone()),
        ("__OW_API_HOST", inner.config.api_host.clone()),
    ];
    env.extend(context.into_iter().map(|(k, v)| (k.to_string(), v)));
    if let Some(key) = &req.api_key {
        env.push(("__OW_API_KEY".into(), key.clone()));
    }
    Invocation {
        stdin: req.args.to_string().into_bytes(),
        args: vec![name],
        env,
        timeout: Duration::from_millis(action.limits.timeout),
        memory_bytes: action.limits.memory * MB,
        // One byte more than a result may have, to tell a result that is too large.
        stdout_limit: inner.config.max_result_bytes + 1,
        stderr_limit: (action.limits.logs * MB) as usize + 1,
    }
}

/// What the guest's ending and output mean, as for the process kinds: the result is the JSON
/// object on stdout (all of it, or its last line with the lines before it logged), stderr is
/// the log.
fn classify(
    done: Completion,
    timeout_ms: u64,
    memory_mb: u64,
    max_result: usize,
    log_limit: usize,
) -> (ActivationResponse, Vec<String>) {
    let now = SystemTime::now();
    let mut logs = LogBuffer::new(log_limit);
    let stdout = String::from_utf8_lossy(&done.stdout);
    let (stdout_logs, result) = split_result(&stdout);
    for line in stdout_logs {
        logs.push(Stream::Stdout, now, line);
    }
    for line in String::from_utf8_lossy(&done.stderr).lines() {
        logs.push(Stream::Stderr, now, line);
    }
    if done.stderr_dropped > 0 {
        logs.truncate();
    }
    let developer = |message: String| ActivationResponse::failure(Outcome::DeveloperError, message);
    let response = match done.exit {
        exit @ (Exit::TimedOut | Exit::OutOfMemory | Exit::Trap(_) | Exit::Failed(_)) => {
            stopped(exit, timeout_ms, memory_mb)
        }
        Exit::Code(code) if code != 0 => developer(format!(
            "The action exited with code {code} (a wasm action ends with code 0)."
        )),
        Exit::Code(_) if done.stdout_dropped > 0 || done.stdout.len() > max_result => {
            ActivationResponse::failure(
                Outcome::ApplicationError,
                format!(
                    "The action produced a response that exceeded the allowed length: more than {max_result} bytes."
                ),
            )
        }
        Exit::Code(_) => match result {
            Some(Value::Object(map)) => {
                ActivationResponse::from_result(Value::Object(map), done.stdout.len())
            }
            Some(_) => developer("The action did not return a dictionary.".into()),
            None => developer(format!(
                "The action did not produce a valid JSON object on its standard output{}.",
                excerpt(&stdout)
            )),
        },
    };
    (response, logs.finish())
}

/// What a guest stopped by a limit, a trap or a failure to instantiate gets (commands and
/// components alike).
pub(crate) fn stopped(exit: Exit, timeout_ms: u64, memory_mb: u64) -> ActivationResponse {
    let developer = |message: String| ActivationResponse::failure(Outcome::DeveloperError, message);
    match exit {
        Exit::TimedOut => developer(format!(
            "The action exceeded its time limits of {timeout_ms} milliseconds."
        )),
        Exit::OutOfMemory => developer(format!(
            "The action exhausted its memory and was aborted: it tried to grow past its limit of {memory_mb} MB."
        )),
        Exit::Trap(message) => developer(format!("The action trapped: {message}.")),
        Exit::Code(code) => developer(format!("The action exited with code {code}.")),
        Exit::Failed(message) => {
            tracing::error!(error = %message, "a wasm instance could not be created");
            ActivationResponse::failure(
                Outcome::InternalError,
                "The wasm engine could not create an instance for the action.",
            )
        }
    }
}

/// The result JSON and the stdout lines that are logs: all of stdout when it is one JSON value,
/// else its last non-empty line (OpenWhisk's convention for native actions).
fn split_result(stdout: &str) -> (Vec<&str>, Option<Value>) {
    if let Ok(value) = serde_json::from_str::<Value>(stdout) {
        return (Vec::new(), Some(value));
    }
    let lines: Vec<&str> = stdout.lines().collect();
    let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty()) else {
        return (Vec::new(), None);
    };
    match serde_json::from_str::<Value>(lines[last]) {
        Ok(value) => (lines[..last].to_vec(), Some(value)),
        Err(_) => (lines, None),
    }
}

pub(crate) fn excerpt(stdout: &str) -> String {
    let text = stdout.trim();
    if text.is_empty() {
        return " (it was empty)".into();
    }
    let cut: String = text.chars().take(100).collect();
    format!(": {cut}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_result_is_all_of_stdout_or_its_last_line() {
        assert_eq!(split_result("{\"a\":1}\n"), (vec![], Some(json!({"a": 1}))));
        assert_eq!(
            split_result("debug\n{\"a\":1}\n\n"),
            (vec!["debug"], Some(json!({"a": 1})))
        );
        assert_eq!(split_result("no json\n"), (vec!["no json"], None));
        assert_eq!(split_result(""), (vec![], None));
    }
}
