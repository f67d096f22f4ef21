//! Invoking one action: arguments, outcomes, records, waiting, throttles and refusals.

use std::time::Duration;

use serde_json::{json, Value};
use wisp_controller::testing::{blocking, object, TestController};
use wisp_controller::{ControllerConfig, ControllerError, InvokeOptions, Invoked};
use wisp_core::invoke::InvokeError;
use wisp_core::{ActivationId, ActivationResponse, Outcome};

use crate::support::{action, exec, put_action};

#[tokio::test]
async fn the_payload_overlays_the_actions_parameters() {
    let t = TestController::start().await;
    action(
        &t,
        "greet",
        &[("name", json!("World")), ("punct", json!("!"))],
    )
    .await;
    t.invoker.on("greet", |args| {
        json!({ "greeting": format!("Hello {}{}", args["name"].as_str().unwrap(), args["punct"].as_str().unwrap()) })
    });

    let response = t.invoke("greet", json!({ "name": "Ada" })).await;

    assert_eq!(response.outcome, Outcome::Success);
    assert_eq!(response.result, json!({ "greeting": "Hello Ada!" }));
    let runs = t.invoker.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].args, json!({ "name": "Ada", "punct": "!" }));
    assert_eq!(runs[0].namespace, "guest");
}

#[tokio::test]
async fn final_parameters_cannot_be_overridden() {
    let t = TestController::start().await;
    put_action(
        &t,
        &t.guest,
        "fixed",
        exec("nodejs:20"),
        &[("mode", json!("safe"))],
        &[("final", json!(true))],
    )
    .await;

    let refused = t
        .controller
        .invoke(
            &t.guest,
            &t.path("fixed"),
            object(json!({ "mode": "unsafe" })),
            blocking(),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(refused, ControllerError::BadRequest(_)),
        "{refused:?}"
    );
    assert!(t.invoker.runs().is_empty(), "nothing ran");
}

#[tokio::test]
async fn each_outcome_is_recorded_as_the_runtime_reported_it() {
    let t = TestController::start().await;
    action(&t, "fails", &[]).await;
    action(&t, "breaks", &[]).await;
    t.invoker
        .on("fails", |_| json!({ "error": "no such user" }));
    t.invoker.on_run("breaks", |_| {
        ActivationResponse::failure(
            Outcome::DeveloperError,
            "The action did not return a dictionary.",
        )
    });

    let failed = t.invoke("fails", json!({})).await;
    let broke = t.invoke("breaks", json!({})).await;

    assert_eq!(failed.outcome, Outcome::ApplicationError);
    assert_eq!(failed.result, json!({ "error": "no such user" }));
    assert_eq!(broke.outcome, Outcome::DeveloperError);
    assert_eq!(
        broke.result,
        json!({ "error": "The action did not return a dictionary." })
    );
}

#[tokio::test]
async fn a_blocking_invoke_stores_a_record_that_can_be_read_back() {
    let t = TestController::start().await;
    action(&t, "echo", &[]).await;
    t.invoker.on("echo", Value::clone);

    let Invoked::Completed(record) = t
        .controller
        .invoke(
            &t.guest,
            &t.path("echo"),
            object(json!({ "x": 1 })),
            blocking(),
        )
        .await
        .unwrap()
    else {
        panic!("a blocking invoke of a quick action completes");
    };

    let stored = t
        .controller
        .records()
        .get(&t.guest.namespace, record.activation_id.clone())
        .await
        .unwrap();
    assert_eq!(stored.name, "echo");
    assert_eq!(stored.namespace, "guest");
    assert_eq!(stored.response.result, json!({ "x": 1 }));
    assert_eq!(stored.annotations.get("path"), Some(&json!("guest/echo")));
    assert_eq!(stored.annotations.get("kind"), Some(&json!("nodejs:20")));
    assert!(stored.end.unwrap() >= stored.start);
}

#[tokio::test]
async fn a_non_blocking_invoke_answers_at_once_and_records_later() {
    let t = TestController::start().await;
    action(&t, "slow", &[]).await;
    t.invoker.on_slow(
        "slow",
        Duration::from_millis(200),
        |_| json!({ "done": true }),
    );

    let invoked = t
        .controller
        .invoke(&t.guest, &t.path("slow"), None, non_blocking())
        .await
        .unwrap();
    let Invoked::Accepted(id) = invoked else {
        panic!("a non-blocking invoke is accepted, not waited for");
    };

    let record = finished(&t, id).await;
    assert_eq!(record.response.result, json!({ "done": true }));
}

#[tokio::test]
async fn a_blocking_invoke_that_outlasts_its_wait_is_accepted_and_still_recorded() {
    let t = TestController::start().await;
    action(&t, "slow", &[]).await;
    t.invoker.on_slow(
        "slow",
        Duration::from_millis(300),
        |_| json!({ "done": true }),
    );
    let options = InvokeOptions {
        wait: Duration::from_millis(50),
        ..blocking()
    };

    let invoked = t
        .controller
        .invoke(&t.guest, &t.path("slow"), None, options)
        .await
        .unwrap();

    let Invoked::Accepted(id) = invoked else {
        panic!("the caller stops waiting after 50 ms");
    };
    let record = finished(&t, id).await;
    assert_eq!(record.response.outcome, Outcome::Success);
}

#[tokio::test]
async fn a_missing_action_is_not_found_and_another_namespaces_is_forbidden() {
    let t = TestController::start().await;
    let (other, _) = t.namespace("other").await;
    put_action(&t, &other, "private", exec("nodejs:20"), &[], &[]).await;

    let missing = t
        .controller
        .invoke(&t.guest, &t.path("nothing"), None, blocking())
        .await
        .unwrap_err();
    let forbidden = t
        .controller
        .invoke(
            &t.guest,
            &wisp_controller::testing::path_in("other", "private"),
            None,
            blocking(),
        )
        .await
        .unwrap_err();

    assert_eq!(missing, ControllerError::NotFound);
    assert!(
        matches!(forbidden, ControllerError::Forbidden(_)),
        "{forbidden:?}"
    );
    assert!(t.invoker.runs().is_empty());
}

#[tokio::test]
async fn invocations_past_the_concurrency_throttle_are_refused() {
    let mut config = ControllerConfig::default();
    config.limits.throttles.concurrent_invocations = 1;
    let t = TestController::start_with(config).await;
    action(&t, "slow", &[]).await;
    t.invoker
        .on_slow("slow", Duration::from_millis(300), |_| json!({}));

    let first = t
        .controller
        .invoke(&t.guest, &t.path("slow"), None, non_blocking())
        .await
        .unwrap();
    let second = t
        .controller
        .invoke(&t.guest, &t.path("slow"), None, non_blocking())
        .await
        .unwrap_err();

    assert!(matches!(first, Invoked::Accepted(_)));
    assert!(
        matches!(second, ControllerError::TooManyRequests(_)),
        "{second:?}"
    );
}

#[tokio::test]
async fn an_overloaded_invoker_is_a_503_and_a_stopped_one_an_internal_error() {
    let t = TestController::start().await;
    action(&t, "echo", &[]).await;

    t.invoker.refuse(Some(InvokeError::Overloaded));
    let overloaded = t
        .controller
        .invoke(&t.guest, &t.path("echo"), None, blocking())
        .await
        .unwrap_err();
    t.invoker.refuse(Some(InvokeError::ShuttingDown));
    let stopped = t.invoke("echo", json!({})).await;

    assert!(
        matches!(&overloaded, ControllerError::Unavailable(m) if m.contains("cannot take more work")),
        "{overloaded:?}"
    );
    assert_eq!(stopped.outcome, Outcome::InternalError);
    assert_eq!(
        stopped.result,
        json!({ "error": "the invoker is shutting down" })
    );
}

fn non_blocking() -> InvokeOptions {
    InvokeOptions {
        blocking: false,
        ..blocking()
    }
}

/// The record of `id` once it has finished (within five seconds): until then the store holds
/// the marker an accepted activation leaves, an internal error saying it was interrupted.
async fn finished(t: &TestController, id: ActivationId) -> wisp_core::Activation {
    for _ in 0..100 {
        if let Ok(record) = t
            .controller
            .records()
            .get(&t.guest.namespace, id.clone())
            .await
        {
            if record.response.outcome != Outcome::InternalError {
                return record;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no finished record of {id}");
}
