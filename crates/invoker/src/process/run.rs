//! Running one activation on a leased process: init when fresh, then run, under the action's
//! time and memory limits, and turning what came back into an outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wisp_core::invoke::{InvokeError, RunOutcome, RunRequest, StartKind};
use wisp_core::time::now_ms;
use wisp_core::{ActivationResponse, Outcome};

use super::code::{prepare, Loadable};
use super::demux::Finished;
use super::pool::{Lease, Pool};
use super::protocol::{init_line, run_line, RunContext, Source};
use super::runtime_process::RuntimeProcess;

const MB: u64 = 1024 * 1024;
/// How often a running activation's memory is checked.
const MEMORY_POLL: Duration = Duration::from_millis(50);
/// How long to wait for the last logs of a process that was killed.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// Runs a process kind's activation: on a warm process of its revision, else on a stem cell (or
/// a process started cold) initialised with its code.
pub(crate) async fn run(pool: &Arc<Pool>, req: RunRequest) -> Result<RunOutcome, InvokeError> {
    let action = req.action.clone();
    let limits = action.limits;
    let key = action.revision_key();
    let kind = action.exec.code().ok_or(InvokeError::NotRunnable)?.kind;
    // Waiting for room counts against the activation's time, as it would for a caller.
    let queue_deadline = Instant::now() + Duration::from_millis(limits.timeout);
    let lease = pool
        .acquire(
            &key,
            kind,
            limits.memory,
            limits.concurrency,
            queue_deadline,
        )
        .await?;

    let (process, start_kind, start, init_time) = match lease {
        Lease::Warm(process) => (process, StartKind::Warm, now_ms(), None),
        Lease::Fresh(stem) => {
            let (process, start_kind) = match stem {
                Some(p) => (p, StartKind::StemCell),
                None => match pool.start_process(kind).await {
                    Ok(p) => (Arc::new(p), StartKind::Cold),
                    Err(e) => {
                        pool.release_reservation(limits.memory);
                        pool.warmed(&key, limits.concurrency);
                        tracing::error!(error = %e, "runtime process failed to start");
                        return Ok(RunOutcome::failure(
                            Outcome::InternalError,
                            "Failed to start a runtime process for the action.",
                            now_ms(),
                            None,
                            StartKind::Cold,
                        ));
                    }
                },
            };
            // From here the process is the action's: its memory limit applies (enforced by the
            // kernel where a cgroup exists, otherwise `exchange` polls).
            process.limit_memory(limits.memory * MB);
            let start = now_ms();
            let init_started = Instant::now();
            let init = initialize(pool, &process, &req).await;
            let init_time = init_started.elapsed().as_millis() as u64;
            if let Err(mut outcome) = init {
                process.kill();
                pool.release_reservation(limits.memory);
                pool.warmed(&key, limits.concurrency);
                outcome.start = start;
                outcome.init_time = Some(init_time);
                outcome.start_kind = start_kind;
                return Ok(outcome);
            }
            pool.add_warm(&key, kind, process.clone(), limits.memory);
            pool.warmed(&key, limits.concurrency);
            (process, start_kind, start, Some(init_time))
        }
    };

    let mut outcome = execute(pool, &process, &req).await;
    outcome.start = start;
    outcome.init_time = init_time;
    outcome.start_kind = start_kind;
    // OpenWhisk discards a container after a developer or internal error: its state is suspect.
    let failed = !matches!(
        outcome.response.outcome,
        Outcome::Success | Outcome::ApplicationError
    );
    // Nothing a function started outlives its activation: a process that has something
    // running beside it is retired with it. Alone on its process, an activation asks before
    // giving the process back; beside others, once the last of them has ended.
    let alone = limits.concurrency == 1;
    let strays = alone && !failed && process.has_strays();
    let idle = pool.release(&key, &process, failed || strays);
    if idle && !alone && process.has_strays() {
        pool.retire_if_idle(&key, &process);
    }
    Ok(outcome)
}

async fn initialize(
    pool: &Pool,
    process: &RuntimeProcess,
    req: &RunRequest,
) -> Result<(), RunOutcome> {
    let action = &req.action;
    let timeout = Duration::from_millis(action.limits.timeout);
    let code_root = pool.config.runtime_dir.join("code");
    let code = action.exec.code().ok_or_else(|| {
        RunOutcome::failure(
            Outcome::InternalError,
            InvokeError::NotRunnable.to_string(),
            now_ms(),
            None,
            StartKind::Cold,
        )
    })?;
    let exec = code.clone();
    let max_unpacked = pool.config.max_unpacked_bytes;
    let loadable = tokio::task::spawn_blocking(move || prepare(&exec, &code_root, max_unpacked))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let loadable = loadable.map_err(|message| {
        RunOutcome::failure(
            Outcome::DeveloperError,
            format!("Initialization has failed due to: {message}"),
            now_ms(),
            None,
            StartKind::Cold,
        )
    })?;
    let dir;
    let source = match loadable {
        Loadable::Text => Source::Text(&code.code),
        Loadable::Directory(path) => {
            // Into the process's sandbox, read-only, where it alone sees it.
            let inside = process.mount_code(path).await.map_err(|e| {
                tracing::error!(error = %e, "cannot mount the action's code");
                RunOutcome::failure(
                    Outcome::InternalError,
                    "The action's code could not be made available to its runtime.",
                    now_ms(),
                    None,
                    StartKind::Cold,
                )
            })?;
            dir = inside.display().to_string();
            Source::Directory(&dir)
        }
    };
    let line = init_line(
        code.entry_point(),
        source,
        &req.init_env,
        action.limits.concurrency > 1,
    );
    let log_limit = (action.limits.logs * MB) as usize;
    let (finished, ended) = exchange(
        process,
        None,
        &line,
        log_limit,
        timeout,
        action.limits.memory,
    )
    .await;
    let limit = cut_short(ended, action.limits.timeout, " during initialization");
    let response = match (limit, finished.reply.as_ref()) {
        (Some(response), _) => response,
        (None, Some(reply)) if reply.ok => return Ok(()),
        (None, Some(reply)) => developer_error(reply.error.clone()),
        (None, None) => ActivationResponse::failure(
            Outcome::DeveloperError,
            "The action did not initialize and exited unexpectedly.",
        ),
    };
    Err(RunOutcome {
        response,
        logs: finished.logs,
        start: 0,
        end: now_ms(),
        init_time: None,
        timed_out: ended == Ended::TimedOut,
        start_kind: StartKind::Cold,
        state: None,
    })
}

async fn execute(pool: &Pool, process: &RuntimeProcess, req: &RunRequest) -> RunOutcome {
    let action = &req.action;
    let timeout = Duration::from_millis(action.limits.timeout);
    let action_name = action.path.fully_qualified();
    let version = action.version.to_string();
    let ctx = RunContext {
        activation_id: req.activation_id.as_str(),
        namespace: &req.namespace,
        action_name: &action_name,
        action_version: &version,
        deadline: now_ms() + action.limits.timeout,
        transaction_id: &req.transaction_id,
        api_key: req.api_key.as_deref(),
        env: &req.env,
    };
    let line = run_line(&req.args, &ctx);
    let log_limit = (action.limits.logs * MB) as usize;
    let (finished, ended) = exchange(
        process,
        Some(req.activation_id.to_string()),
        &line,
        log_limit,
        timeout,
        action.limits.memory,
    )
    .await;
    let mut response = cut_short(ended, action.limits.timeout, "")
        .unwrap_or_else(|| interpret(&finished, pool.config.max_result_bytes));
    if response.outcome != Outcome::Success && process.pids_exhausted() {
        response = ActivationResponse::failure(
            Outcome::DeveloperError,
            format!(
                "The action reached its limit of {} processes and threads.",
                pool.config.sandbox.pids_max
            ),
        );
    }
    RunOutcome {
        response,
        logs: finished.logs,
        start: 0,
        end: now_ms(),
        init_time: None,
        timed_out: ended == Ended::TimedOut,
        start_kind: StartKind::Warm,
        state: None,
    }
}

/// The developer error of an exchange cut short by its time or memory limit; `None` when it
/// ran to its end. `phase` completes the timeout message (" during initialization").
fn cut_short(ended: Ended, timeout_ms: u64, phase: &str) -> Option<ActivationResponse> {
    let message = match ended {
        Ended::Done => return None,
        Ended::TimedOut => {
            format!("The action exceeded its time limits of {timeout_ms} milliseconds{phase}.")
        }
        Ended::OutOfMemory => "The action exhausted its memory and was aborted.".to_string(),
    };
    Some(ActivationResponse::failure(
        Outcome::DeveloperError,
        message,
    ))
}

/// Classifies a run reply as OpenWhisk's invoker does.
fn interpret(finished: &Finished, max_result: usize) -> ActivationResponse {
    let Some(reply) = &finished.reply else {
        return ActivationResponse::failure(
            Outcome::DeveloperError,
            "The action did not produce a valid response and exited unexpectedly.",
        );
    };
    if let Some(result) = &reply.result {
        if finished.reply_size > max_result {
            let text = result.to_string();
            let prefix: String = text.chars().take(max_result.min(1024)).collect();
            return ActivationResponse::failure(
                Outcome::ApplicationError,
                format!(
                    "The action produced a response that exceeded the allowed length: {} > {} bytes. The truncated response was: {prefix}",
                    finished.reply_size, max_result
                ),
            );
        }
        return ActivationResponse::from_result(result.clone(), finished.reply_size);
    }
    developer_error(reply.error.clone())
}

fn developer_error(error: Option<Value>) -> ActivationResponse {
    ActivationResponse {
        outcome: Outcome::DeveloperError,
        result: serde_json::json!({
            "error": error.unwrap_or_else(|| "The action did not produce a valid response.".into())
        }),
        size: None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Done,
    TimedOut,
    OutOfMemory,
}

/// Sends one message and waits for its outcome, killing the process on timeout or when it
/// grows past its memory limit.
async fn exchange(
    process: &RuntimeProcess,
    id: Option<String>,
    line: &str,
    log_limit: usize,
    timeout: Duration,
    memory_mb: u64,
) -> (Finished, Ended) {
    let mut outcome = process.expect(id, true, log_limit);
    if process.send(line).await.is_err() {
        process.kill();
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + MEMORY_POLL, MEMORY_POLL);
    let ended = loop {
        tokio::select! {
            finished = &mut outcome => {
                let finished = finished.unwrap_or_else(|_| gone());
                // A process that went without replying may have been killed by the kernel
                // for its memory.
                let ended = if finished.reply.is_none() && process.oom_killed() {
                    Ended::OutOfMemory
                } else {
                    Ended::Done
                };
                return (finished, ended);
            }
            _ = tokio::time::sleep_until(deadline) => break Ended::TimedOut,
            _ = poll.tick(), if !process.kernel_limited() => {
                if process.resident_bytes().is_some_and(|rss| rss > memory_mb * MB) {
                    break Ended::OutOfMemory;
                }
            }
        }
    };
    process.kill();
    let finished = tokio::time::timeout(KILL_GRACE, outcome)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(gone);
    (finished, ended)
}

fn gone() -> Finished {
    Finished {
        reply: None,
        reply_size: 0,
        logs: Vec::new(),
    }
}
