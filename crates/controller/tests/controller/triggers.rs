//! Triggers and rules: a fire invokes every active rule's action with the event.

use std::time::Duration;

use serde_json::{json, Map, Value};
use wisp_controller::testing::TestController;
use wisp_controller::{ControllerError, RulePut, TriggerPut};
use wisp_core::{ActivationId, RuleStatus};

use crate::support::{action, parameters};

#[tokio::test]
async fn a_fire_invokes_each_active_rules_action_with_the_trigger_parameters_and_event() {
    let t = TestController::start().await;
    trigger(
        &t,
        "uploaded",
        &[("bucket", json!("photos")), ("size", json!(0))],
    )
    .await;
    action(&t, "thumbnail", &[]).await;
    action(&t, "index", &[]).await;
    t.invoker.on("thumbnail", Value::clone);
    t.invoker.on("index", Value::clone);
    rule(&t, "thumbs", "uploaded", "thumbnail").await.unwrap();
    rule(&t, "search", "uploaded", "index").await.unwrap();

    let id = fire(&t, "uploaded", json!({ "size": 2048, "name": "cat.jpg" })).await;

    let id = id.expect("active rules make a trigger activation");
    let mut ran = eventually(|| {
        let ran = t.invoker.ran();
        (ran.len() == 2).then_some(ran)
    })
    .await;
    ran.sort();
    assert_eq!(ran, ["index", "thumbnail"]);
    for run in t.invoker.runs() {
        assert_eq!(run.args["bucket"], json!("photos"));
        assert_eq!(
            run.args["size"],
            json!(2048),
            "the event overlays the trigger"
        );
        assert_eq!(run.args["name"], json!("cat.jpg"));
    }
    let record = t
        .controller
        .records()
        .get(&t.guest.namespace, id)
        .await
        .unwrap();
    assert_eq!(record.name, "uploaded");
    assert_eq!(record.logs.len(), 2, "one line per rule: {:?}", record.logs);
    for line in &record.logs {
        let line: Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["success"], json!(true), "{line}");
    }
}

#[tokio::test]
async fn a_disabled_rule_invokes_nothing() {
    let t = TestController::start().await;
    trigger(&t, "tick", &[]).await;
    action(&t, "work", &[]).await;
    t.invoker.on("work", |_| json!({}));
    rule(&t, "every", "tick", "work").await.unwrap();
    t.controller
        .entities()
        .set_rule_status(&t.path("every"), RuleStatus::Inactive)
        .await
        .unwrap();

    let id = fire(&t, "tick", json!({})).await;

    assert_eq!(id, None, "no active rule, no trigger activation");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(t.invoker.runs().is_empty());
}

#[tokio::test]
async fn a_rule_needs_an_existing_trigger_and_action() {
    let t = TestController::start().await;
    trigger(&t, "real", &[]).await;
    action(&t, "exists", &[]).await;

    let no_action = rule(&t, "r1", "real", "ghost").await.unwrap_err();
    let no_trigger = rule(&t, "r2", "phantom", "exists").await.unwrap_err();

    assert_eq!(
        no_action,
        ControllerError::BadRequest("action /guest/ghost does not exist".into())
    );
    assert_eq!(
        no_trigger,
        ControllerError::BadRequest("trigger /guest/phantom does not exist".into())
    );
}

async fn trigger(t: &TestController, name: &str, params: &[(&str, Value)]) {
    let put = TriggerPut {
        parameters: Some(parameters(params)),
        ..TriggerPut::default()
    };
    t.controller
        .entities()
        .put_trigger(t.path(name), put, true)
        .await
        .unwrap_or_else(|e| panic!("put trigger {name}: {e}"));
}

async fn rule(
    t: &TestController,
    name: &str,
    trigger: &str,
    action: &str,
) -> Result<(), ControllerError> {
    let put = RulePut {
        trigger: Some(format!("/guest/{trigger}")),
        action: Some(format!("/guest/{action}")),
        ..RulePut::default()
    };
    t.controller
        .entities()
        .put_rule(&t.guest, t.path(name), put, false)
        .await
        .map(|_| ())
}

async fn fire(t: &TestController, name: &str, event: Value) -> Option<ActivationId> {
    let Value::Object(event) = event else {
        panic!("an event is an object");
    };
    t.controller
        .fire_trigger(&t.guest, &t.path(name), event, Map::new(), "test".into())
        .await
        .unwrap_or_else(|e| panic!("fire {name}: {e}"))
}

/// Polls `check` until it gives a value (within five seconds).
async fn eventually<T>(check: impl Fn() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the condition did not hold within five seconds");
}
