//! A WASI preview-1 command: each activation runs in a fresh instance of the action's compiled
//! module; this file turns an activation into an engine invocation and what the guest wrote into
//! an outcome. It also holds what commands and components judge alike (`init_variables`,
//! `stopped`, `excerpt`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use wisp_core::invoke::{InvokeError, RunOutcome, RunRequest, StartKind};
use wisp_core::time::now_ms;
use wisp_core::{ActivationResponse, Outcome};
use wisp_wasm::{Completion, Exit, Invocation};

use super::engine::{program, Wasm};
use crate::logs::{LogBuffer, Stream};

const MB: u64 = 1024 * 1024;
/// How long past its timeout an activation waits for a guest stuck in a host call (where the
/// epoch deadline cannot stop it) before it is stopped and reported as timed out regardless.
const BACKSTOP: Duration = Duration::from_secs(1);

/// Runs a command's activation in a fresh instance.
pub(crate) async fn run(wasm: &Arc<Wasm>, req: RunRequest) -> Result<RunOutcome, InvokeError> {
    let limits = req.action.limits;
    let timeout = Duration::from_millis(limits.timeout);
    // Waiting for a slot counts against the activation's time, as in the process pool.
    let slot = wasm.pool.slot(timeout).await?;
    let start = now_ms();
    let (program, init_time) = match program(wasm, &req).await {
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
    let invocation = invocation(wasm, &req);
    let engine = wasm.engine().expect("the program came from this engine");
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
        wasm.max_result_bytes,
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
        state: None,
    })
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
fn invocation(wasm: &Wasm, req: &RunRequest) -> Invocation {
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
        ("__OW_API_HOST", wasm.api_host.clone()),
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
        stdout_limit: wasm.max_result_bytes + 1,
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
