//! Unauthenticated server descriptions, the namespace list and limits.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use wisp_core::{Kind, SystemLimits};

use crate::auth::Caller;
use crate::{ApiError, AppState};

fn runtimes() -> Value {
    let mut families = serde_json::Map::new();
    for kind in Kind::ALL {
        let entry = json!({
            "kind": kind.as_str(),
            "image": format!("wisp/launcher-{}", kind.family()),
            "deprecated": false,
            "default": kind.is_default(),
            "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"},
            "requireMain": false,
        });
        families
            .entry(kind.family())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("families hold arrays")
            .push(entry);
    }
    Value::Object(families)
}

fn system_limits(l: &SystemLimits) -> Value {
    const MB: u64 = 1024 * 1024;
    json!({
        "actions_per_minute": l.throttles.invocations_per_minute,
        "triggers_per_minute": l.throttles.fires_per_minute,
        "concurrent_actions": l.throttles.concurrent_invocations,
        "sequence_length": l.max_sequence_length,
        "min_action_duration": l.min_timeout,
        "max_action_duration": l.max_timeout,
        "min_action_memory": l.min_memory * MB,
        "max_action_memory": l.max_memory * MB,
        "min_action_logs": l.min_logs * MB,
        "max_action_logs": l.max_logs * MB,
        "default_action_duration": l.defaults.timeout,
        "default_action_memory": l.defaults.memory * MB,
        "default_action_logs": l.defaults.logs * MB,
        "default_action_concurrency": l.defaults.concurrency,
        "max_action_concurrency": l.max_concurrency,
    })
}

/// `GET /`: what this server is and what it runs.
pub async fn server_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "description": "Wisp, a serverless functions platform compatible with Apache OpenWhisk",
        "support": {"github": "https://github.com/wisp-platform/wisp"},
        "api_paths": ["/api/v1"],
        "limits": system_limits(state.controller.limits()),
        "runtimes": runtimes(),
    }))
}

/// `GET /api/v1`: the API's build information, runtimes and limits.
pub async fn api_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "description": "OpenWhisk API",
        "api_version": "1.0.0",
        "api_version_path": "v1",
        "build": state.build.build,
        "buildno": state.build.version,
        "server": "wisp",
        "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
        "limits": system_limits(state.controller.limits()),
        "runtimes": runtimes(),
    }))
}

/// `GET /api/v1/namespaces`: the caller's namespaces.
pub async fn namespaces(caller: Caller) -> Json<Value> {
    Json(json!([caller.0.namespace.as_str()]))
}

/// `GET /api/v1/namespaces/{ns}/limits`: the caller's effective limits, the system's with its
/// namespace's overrides applied.
pub async fn limits(
    State(state): State<AppState>,
    caller: Caller,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.entitled_namespace(&state, &ns, "limits")?;
    let l = state.controller.limits();
    let t = state.controller.throttles(&caller.0);
    Ok(Json(json!({
        "invocationsPerMinute": t.invocations_per_minute,
        "concurrentInvocations": t.concurrent_invocations,
        "firesPerMinute": t.fires_per_minute,
        "minActionMemory": l.min_memory,
        "maxActionMemory": l.max_memory,
        "minActionLogs": l.min_logs,
        "maxActionLogs": l.max_logs,
        "minActionTimeout": l.min_timeout,
        "maxActionTimeout": l.max_timeout,
        "minActionConcurrency": l.min_concurrency,
        "maxActionConcurrency": l.max_concurrency,
        "maxParameterSize": "1 MB",
        "maxActionInstances": t.concurrent_invocations,
    })))
}
