//! `wasm` actions whose code is a component of Wisp's world: an activation calls `handle` on a
//! warm instance of the action revision when one is idle, else on a new one (its `initTime`),
//! and the instance is kept for the next activation unless the call broke it or the action
//! asks for a fresh instance every time (`wasm-fresh-instance: true`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use wisp_core::invoke::{InvokeError, RunOutcome, RunRequest, StartKind};
use wisp_core::time::now_ms;
use wisp_core::{ActivationResponse, Outcome};
use wisp_wasm::{Call, Ended, Exit, Handled, InstanceSetup};

use super::command::{excerpt, init_variables, stopped};
use super::engine::{program, Wasm};
use crate::logs::{LogBuffer, Stream};

const MB: u64 = 1024 * 1024;
/// The annotation that asks for a new component instance per activation: no state is left in globals
/// from one activation to the next (the isolation of a fresh process, at a few hundred
/// microseconds for a JS component).
pub const FRESH_INSTANCE: &str = "wasm-fresh-instance";
/// How long past its time limits an activation waits for a guest stuck in a host call (where
/// the epoch deadline cannot stop it) before it is stopped and reported as timed out.
const BACKSTOP: Duration = Duration::from_secs(1);

/// Whether base64 `code` is a component: its header's bytes 4–7 are `0d 00 01 00` (the first
/// 12 base64 characters are the first 9 bytes).
pub(crate) fn is_component(code: &str) -> bool {
    use base64::Engine as _;
    let head = code.trim_start().get(..12).unwrap_or_default();
    matches!(
        base64::engine::general_purpose::STANDARD.decode(head),
        Ok(bytes) if bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0, 1, 0]
    )
}

/// Warm instances serve one action revision for one invoking namespace, as OpenWhisk's warm
/// containers do: nothing a guest keeps in its globals reaches another namespace.
fn warm_key(req: &RunRequest) -> String {
    format!("{} {}", req.action.revision_key(), req.namespace)
}

/// Runs a component's activation on a warm instance, else on a new one.
pub(crate) async fn run(wasm: &Arc<Wasm>, req: RunRequest) -> Result<RunOutcome, InvokeError> {
    let limits = req.action.limits;
    let timeout = Duration::from_millis(limits.timeout);
    let fresh = req.action.annotations.is_true(FRESH_INSTANCE);
    let key = warm_key(&req);
    let warm = if fresh { None } else { wasm.pool.take(&key) };
    let (warm, slot) = match warm {
        Some((instance, slot)) => (Some(instance), slot),
        // Waiting for a slot counts against the activation's time, as in the process pool.
        None => (None, wasm.pool.slot(timeout).await?),
    };
    let start = now_ms();
    let started = Instant::now();
    let (instance, init) = match warm {
        Some(instance) => (Ok(instance), None),
        None => {
            let program = match program(wasm, &req).await {
                Ok((program, _)) => program,
                Err(message) => {
                    return Ok(RunOutcome::failure(
                        Outcome::DeveloperError,
                        message,
                        start,
                        None,
                        StartKind::Cold,
                    ))
                }
            };
            (Err((program, setup(wasm, &req))), Some(started))
        }
    };
    let call = Call {
        params: req.args.to_string(),
        timeout,
    };
    let judge = Judge {
        timeout_ms: limits.timeout,
        memory_mb: limits.memory,
        max_result: wasm.max_result_bytes,
        log_limit: (limits.logs * MB) as usize,
    };
    let engine = wasm.engine().expect("the program came from this engine");
    let pool = &wasm.pool;
    // The guest runs here, on this activation's task (no thread hop): instantiation and the
    // call each have the action's time, and the engine stops them at it.
    let running = async move {
        let elapsed = || init.map(|t| t.elapsed().as_millis() as u64);
        let (mut instance, init_time) = match instance {
            Ok(instance) => (instance, None),
            Err((program, setup)) => match engine.instantiate_component(&program, setup).await {
                Ok(instance) => (instance, elapsed()),
                Err(failed) => return (judge.classify(failed), elapsed()),
            },
        };
        let handled = instance.handle(call).await;
        let judged = judge.classify(handled);
        // A stopped call leaves the instance unusable; any developer error discards it, as
        // OpenWhisk discards the container. Otherwise it is kept for the next activation,
        // unless the action wants a fresh one each time; a dropped instance returns its
        // memory and slot to the pool.
        let sound = instance.reusable() && judged.response.outcome != Outcome::DeveloperError;
        if sound && !fresh {
            pool.park(key, instance, slot);
        } else {
            drop((instance, slot));
        }
        (judged, init_time)
    };
    // Past both limits and the backstop (a host call that does not return), the future is
    // dropped: that stops the guest and drops the instance with its slot.
    let (judged, init_time) = tokio::time::timeout(timeout * 2 + BACKSTOP, running)
        .await
        .unwrap_or_else(|_| (judge.classify(stuck()), None));
    Ok(RunOutcome {
        response: judged.response,
        logs: judged.logs,
        start,
        end: now_ms(),
        init_time,
        timed_out: judged.timed_out,
        start_kind: if init_time.is_some() {
            StartKind::Cold
        } else {
            StartKind::Warm
        },
        state: None,
    })
}

/// A call that neither ended nor was stopped (stuck in a host call).
fn stuck() -> Handled {
    Handled {
        ended: Ended::Stopped(Exit::TimedOut),
        stdout: Vec::new(),
        stdout_dropped: 0,
        stderr: Vec::new(),
        stderr_dropped: 0,
    }
}

/// How a new instance is made: the activation's namespace behind its imports, the action's
/// limits, and as environment the action's init parameters and the context that holds for the
/// instance's whole life (not the per-activation `__OW_ACTIVATION_ID` or `__OW_DEADLINE`: a
/// warm instance serves many activations, and most guest runtimes read their environment once).
fn setup(wasm: &Wasm, req: &RunRequest) -> InstanceSetup {
    let action = &req.action;
    let name = action.path.fully_qualified();
    let mut env = init_variables(req);
    let context = [
        ("__OW_NAMESPACE", req.namespace.clone()),
        ("__OW_ACTION_NAME", name.clone()),
        ("__OW_ACTION_VERSION", action.version.to_string()),
        ("__OW_API_HOST", wasm.api_host.clone()),
    ];
    env.extend(context.into_iter().map(|(k, v)| (k.to_string(), v)));
    InstanceSetup {
        args: vec![name],
        env,
        namespace: req.namespace.clone(),
        state: wasm.state(),
        memory_bytes: action.limits.memory * MB,
        stdout_limit: (action.limits.logs * MB) as usize + 1,
        stderr_limit: (action.limits.logs * MB) as usize + 1,
        timeout: Duration::from_millis(action.limits.timeout),
    }
}

/// The action's limits that decide what a call's ending means.
#[derive(Debug, Clone, Copy)]
struct Judge {
    timeout_ms: u64,
    memory_mb: u64,
    max_result: usize,
    log_limit: usize,
}

struct Judged {
    response: ActivationResponse,
    logs: Vec<String>,
    timed_out: bool,
}

impl Judge {
    /// What the call's ending means: `ok` is the result (a JSON object), `err` an application
    /// error, a stop a developer error (as for commands); stdout and stderr are the logs.
    fn classify(&self, done: Handled) -> Judged {
        let now = SystemTime::now();
        let mut logs = LogBuffer::new(self.log_limit);
        for line in String::from_utf8_lossy(&done.stdout).lines() {
            logs.push(Stream::Stdout, now, line);
        }
        for line in String::from_utf8_lossy(&done.stderr).lines() {
            logs.push(Stream::Stderr, now, line);
        }
        if done.stdout_dropped > 0 || done.stderr_dropped > 0 {
            logs.truncate();
        }
        let developer =
            |message: String| ActivationResponse::failure(Outcome::DeveloperError, message);
        let timed_out = done.ended == Ended::Stopped(Exit::TimedOut);
        let response = match done.ended {
            Ended::Ok(text) if text.len() > self.max_result => ActivationResponse::failure(
                Outcome::ApplicationError,
                format!(
                    "The action produced a response that exceeded the allowed length: more than {} bytes.",
                    self.max_result
                ),
            ),
            Ended::Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => {
                    ActivationResponse::from_result(Value::Object(map), text.len())
                }
                Ok(_) => developer("The action did not return a dictionary.".into()),
                Err(_) => developer(format!(
                    "The action did not return a valid JSON object{}.",
                    excerpt(&text)
                )),
            },
            Ended::Err(message) => ActivationResponse::failure(Outcome::ApplicationError, message),
            Ended::Stopped(Exit::Code(code)) => developer(format!(
                "The action exited with code {code} instead of returning from handle."
            )),
            Ended::Stopped(exit) => stopped(exit, self.timeout_ms, self.memory_mb),
        };
        Judged {
            response,
            logs: logs.finish(),
            timed_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn handled(ended: Ended) -> Handled {
        Handled {
            ended,
            stdout: b"out line\n".to_vec(),
            stdout_dropped: 0,
            stderr: b"err line\n".to_vec(),
            stderr_dropped: 0,
        }
    }

    #[test]
    fn the_header_tells_a_component_from_a_module() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(is_component(&b64(b"\0asm\x0d\0\x01\0rest of it")));
        assert!(!is_component(&b64(b"\0asm\x01\0\0\0rest of it")));
        assert!(!is_component("not base64 at all"));
        assert!(!is_component(""));
    }

    const JUDGE: Judge = Judge {
        timeout_ms: 1000,
        memory_mb: 256,
        max_result: 100,
        log_limit: 1000,
    };

    #[test]
    fn ok_is_the_result_err_an_application_error_and_text_a_developer_error() {
        let ok = JUDGE.classify(handled(Ended::Ok(r#"{"a":1}"#.into())));
        assert_eq!(
            (ok.response.outcome, ok.response.result),
            (Outcome::Success, json!({"a": 1}))
        );
        assert_eq!(ok.logs.len(), 2);
        assert!(ok.logs[0].ends_with("stdout: out line"), "{:?}", ok.logs);
        assert!(ok.logs[1].ends_with("stderr: err line"), "{:?}", ok.logs);

        let err = JUDGE.classify(handled(Ended::Err("no such user".into())));
        assert_eq!(
            (err.response.outcome, err.response.result),
            (Outcome::ApplicationError, json!({"error": "no such user"}))
        );

        let text = JUDGE.classify(handled(Ended::Ok("hello".into())));
        assert_eq!(text.response.outcome, Outcome::DeveloperError);
        assert_eq!(
            text.response.result["error"],
            "The action did not return a valid JSON object: hello."
        );

        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(200));
        let big = JUDGE.classify(handled(Ended::Ok(big)));
        assert_eq!(big.response.outcome, Outcome::ApplicationError);
    }

    #[test]
    fn a_trap_is_a_developer_error_with_its_message() {
        let trap = JUDGE.classify(handled(Ended::Stopped(Exit::Trap(
            "wasm trap: unreachable".into(),
        ))));
        assert_eq!(trap.response.outcome, Outcome::DeveloperError);
        assert_eq!(
            trap.response.result["error"],
            "The action trapped: wasm trap: unreachable."
        );
        let late = JUDGE.classify(handled(Ended::Stopped(Exit::TimedOut)));
        assert!(late.timed_out);
    }
}
