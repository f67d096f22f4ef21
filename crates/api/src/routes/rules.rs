//! `/namespaces/{ns}/rules[/{name}]`: rules, and enabling or disabling them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Router;
use serde::Serialize;
use serde_json::{Map, Value};
use wisp_controller::{RulePut, RuleView};
use wisp_core::{Identity, Rule, RuleStatus};

use crate::auth::Caller;
use crate::routes::entities::{self, Collection};
use crate::routes::own_entity;
use crate::{wire, ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/namespaces/{ns}/rules", entities::list::<Rule>())
        .route(
            "/namespaces/{ns}/rules/{name}",
            entities::item::<Rule>().post(set_status),
        )
}

impl Collection for Rule {
    fn put_from(body: Map<String, Value>, _: &Identity) -> Result<RulePut, ApiError> {
        wire::rule_put(body)
    }

    fn document(view: &RuleView) -> impl Serialize {
        wire::rule(view, true)
    }

    /// Without a status, as OpenWhisk lists rules.
    fn summary(view: &RuleView) -> impl Serialize {
        wire::rule(view, false)
    }
}

/// `{"status": "active" | "inactive"}`: 200 with an empty body.
async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(), ApiError> {
    let path = own_entity(&caller, &state, &ns, "rules", &name)?;
    let body = wire::object_body(&body, true)?.unwrap_or_default();
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(RuleStatus::parse)
        .ok_or_else(|| ApiError::bad_request("status must be either 'active' or 'inactive'"))?;
    state
        .controller
        .entities()
        .set_rule_status(&path, status)
        .await?;
    Ok(())
}
