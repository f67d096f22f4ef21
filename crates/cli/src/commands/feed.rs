//! Feeds, the client side of them as in `wsk`: a trigger with a `feed` annotation is connected
//! to its event source by invoking the feed action (blocking) with a lifecycle event, the
//! trigger's fully qualified name and the owner's key. The server never calls feeds itself.

use std::fmt;

use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{Activation, Trigger};

use super::invoke::{activation_id, failure_message, is_failed_activation};
use crate::client::{ApiError, Client, Reply};
use crate::names::QualifiedName;
use crate::output::document;
use crate::params::KeyValues;

/// The annotation that names a trigger's feed.
pub const FEED: &str = "feed";

/// What the feed is asked to do with the trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Create,
    Update,
    Delete,
}

impl Lifecycle {
    /// The verb for messages: "could not create trigger t".
    pub fn verb(self) -> &'static str {
        match self {
            Lifecycle::Create => "create",
            Lifecycle::Update => "update",
            Lifecycle::Delete => "delete",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Create => "CREATE",
            Lifecycle::Update => "UPDATE",
            Lifecycle::Delete => "DELETE",
        }
    }
}

/// Why a feed invocation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// The feed action is not there (any more), or the key may not see it.
    Missing(String),
    /// The feed ran and failed, or the server refused to run it.
    Failed(String),
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Missing(message) | FeedError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for FeedError {}

/// The feed's arguments: the user's parameters, then the three the protocol defines (which
/// win over parameters of the same name).
pub fn arguments(
    event: Lifecycle,
    trigger_name: &str,
    auth_key: &str,
    params: &KeyValues,
) -> Value {
    let mut args = params.to_object();
    args["lifecycleEvent"] = json!(event.as_str());
    args["triggerName"] = json!(trigger_name);
    args["authKey"] = json!(auth_key);
    args
}

/// Invokes `feed` blocking with `args` and says whether it succeeded.
pub async fn invoke(client: &Client, feed: &QualifiedName, args: &Value) -> Result<(), FeedError> {
    let query = [("blocking", "true".to_string())];
    let reply = client
        .send(Method::POST, &feed.path("actions"), &query, Some(args))
        .await
        .map_err(|e| FeedError::Failed(format!("{e:#}")))?;
    outcome(&reply, feed)
}

/// What one blocking invoke answer of the feed means.
pub fn outcome(reply: &Reply, feed: &QualifiedName) -> Result<(), FeedError> {
    match reply.status {
        200 if succeeded(&reply.body) => Ok(()),
        202 => Err(FeedError::Failed(format!(
            "the feed {feed} did not finish within the blocking wait"
        ))),
        404 => Err(FeedError::Missing(ApiError::from_reply(reply).to_string())),
        _ if reply.is_success() || is_failed_activation(reply) => {
            let id = activation_id(reply);
            Err(FeedError::Failed(failure_message(
                &reply.body,
                id.as_deref(),
                feed,
            )))
        }
        _ => Err(FeedError::Failed(ApiError::from_reply(reply).to_string())),
    }
}

/// Whether a blocking invoke's record says the activation succeeded; a record with no
/// response says nothing against it.
fn succeeded(record: &Value) -> bool {
    document::<Activation>(record)
        .response
        .is_none_or(|response| response.success)
}

/// The feed named by a trigger's `feed` annotation, if it has one.
pub fn of_trigger(
    trigger: &Trigger,
    default_namespace: &str,
) -> anyhow::Result<Option<QualifiedName>> {
    match trigger.annotation(FEED).and_then(Value::as_str) {
        Some(raw) => QualifiedName::parse(raw, default_namespace).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "44794bd6aab74415b4e42a308d880e5b";

    fn feed() -> QualifiedName {
        QualifiedName::parse("/guest/feeds/ticker", "_").unwrap()
    }

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status,
            activation_id: Some(ID.into()),
            body,
        }
    }

    #[test]
    fn arguments_carry_the_lifecycle_fields_over_params() {
        let mut params = KeyValues::default();
        params.set("cron".into(), json!("* * * * *"));
        params.set("lifecycleEvent".into(), json!("mine"));
        assert_eq!(
            arguments(Lifecycle::Create, "/guest/t", "u:k", &params),
            json!({"cron": "* * * * *", "lifecycleEvent": "CREATE",
                   "triggerName": "/guest/t", "authKey": "u:k"})
        );
        let none = KeyValues::default();
        assert_eq!(
            arguments(Lifecycle::Delete, "/guest/t", "u:k", &none)["lifecycleEvent"],
            "DELETE"
        );
    }

    #[test]
    fn a_successful_record_is_success() {
        let body = json!({"response": {"success": true, "status": "success", "result": {}}});
        assert_eq!(outcome(&reply(200, body), &feed()), Ok(()));
    }

    #[test]
    fn application_errors_carry_the_feeds_message() {
        let body = json!({"response": {"success": false, "status": "application error",
                                        "result": {"error": "no cron given"}}});
        let Err(FeedError::Failed(message)) = outcome(&reply(502, body), &feed()) else {
            panic!("a failure");
        };
        assert_eq!(
            message,
            format!(
                "activation {ID} of /guest/feeds/ticker failed: application error: no cron given"
            )
        );
    }

    #[test]
    fn a_missing_feed_is_told_apart() {
        let body = json!({"error": "The requested resource does not exist.", "code": "tx"});
        assert_eq!(
            outcome(&reply(404, body), &feed()),
            Err(FeedError::Missing(
                "The requested resource does not exist. (code tx)".into()
            ))
        );
        let refused = reply(403, json!({"error": "not entitled", "code": "tx"}));
        assert!(matches!(
            outcome(&refused, &feed()),
            Err(FeedError::Failed(_))
        ));
        let slow = reply(202, json!({"activationId": ID}));
        assert!(matches!(outcome(&slow, &feed()), Err(FeedError::Failed(_))));
    }

    #[test]
    fn the_feed_annotation_names_the_feed() {
        let trigger = json!({"annotations": [{"key": "feed", "value": "/guest/feeds/ticker"}]});
        assert_eq!(of_trigger(&document(&trigger), "_").unwrap(), Some(feed()));
        assert_eq!(of_trigger(&Trigger::default(), "_").unwrap(), None);
    }
}
