//! `/namespaces/{ns}/triggers[/{name}]`: triggers, and firing them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};
use wisp_controller::TriggerPut;
use wisp_core::{Identity, Trigger};

use crate::auth::Caller;
use crate::middleware::transaction_id;
use crate::routes::entities::{self, Collection};
use crate::routes::{own_entity, payload_too_large};
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/triggers", entities::list::<Trigger>())
        .route(
            "/namespaces/{ns}/triggers/{name}",
            entities::item::<Trigger>().post(fire),
        )
}

impl Collection for Trigger {
    fn put_from(body: Map<String, Value>, _: &Identity) -> Result<TriggerPut, ApiError> {
        wire::trigger_put(body)
    }

    fn document(trigger: &Trigger) -> impl Serialize {
        wire::trigger(trigger)
    }

    fn summary(trigger: &Trigger) -> impl Serialize {
        wire::trigger_summary(trigger)
    }
}

/// 202 with the trigger's activation id, or 204 when no rule is active.
/// Request headers rule actions never see: the caller's credentials, which any action that
/// logs its input would otherwise write into its logs.
const WITHHELD: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

async fn fire(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = own_entity(&caller, &state, &ns, "triggers", &name)?;
    let max = state.controller.limits().max_payload_bytes;
    if body.len() > max {
        return Err(payload_too_large(body.len(), max));
    }
    let event = wire::object_body(&body, true)?.unwrap_or_default();
    let headers: Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| !WITHHELD.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((name.as_str().to_ascii_lowercase(), Value::from(value)))
        })
        .collect();
    let fired = state
        .controller
        .fire_trigger(&caller.0, &path, event, headers, transaction_id())
        .await?;
    Ok(match fired {
        Some(id) => (
            StatusCode::ACCEPTED,
            Json(json!({"activationId": id.as_str()})),
        )
            .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
