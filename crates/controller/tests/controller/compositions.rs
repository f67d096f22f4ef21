//! Sequences and conductor actions: the controller runs each step and threads results through.

use serde_json::{json, Value};
use wisp_controller::testing::{blocking, object, TestController};
use wisp_controller::{ControllerError, Invoked};
use wisp_core::{Activation, Outcome};

use crate::support::{action, exec, put_action, sequence};

#[tokio::test]
async fn a_sequence_feeds_each_result_to_the_next_action() {
    let t = TestController::start().await;
    action(&t, "split", &[("separator", json!(" "))]).await;
    action(&t, "count", &[]).await;
    t.invoker.on("split", |args| {
        let separator = args["separator"].as_str().unwrap();
        let words: Vec<&str> = args["text"].as_str().unwrap().split(separator).collect();
        json!({ "words": words })
    });
    t.invoker.on(
        "count",
        |args| json!({ "count": args["words"].as_array().unwrap().len() }),
    );
    put_action(
        &t,
        &t.guest,
        "wc",
        sequence(&["/guest/split", "/guest/count"]),
        &[],
        &[],
    )
    .await;

    let record = composition(&t, "wc", json!({ "text": "to be or not" })).await;

    assert_eq!(record.response.result, json!({ "count": 4 }));
    assert_eq!(t.invoker.ran(), ["split", "count"]);
    // The second step saw only the first's result, not the sequence's input.
    assert_eq!(
        t.invoker.runs()[1].args,
        json!({ "words": ["to", "be", "or", "not"] })
    );
    assert_eq!(
        record.logs.len(),
        2,
        "the record lists its steps: {:?}",
        record.logs
    );
    assert_eq!(record.annotations.get("kind"), Some(&json!("sequence")));
    assert_eq!(record.annotations.get("topmost"), Some(&json!(true)));
    for step in &record.logs {
        let step = t
            .controller
            .records()
            .get(
                &t.guest.namespace,
                wisp_core::ActivationId::parse(step).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(step.cause.as_deref(), Some(record.activation_id.as_str()));
    }
}

#[tokio::test]
async fn a_sequence_stops_at_the_first_failure() {
    let t = TestController::start().await;
    action(&t, "check", &[]).await;
    action(&t, "never", &[]).await;
    t.invoker
        .on("check", |_| json!({ "error": "invalid input" }));
    t.invoker.on("never", |_| json!({}));
    put_action(
        &t,
        &t.guest,
        "guarded",
        sequence(&["/guest/check", "/guest/never"]),
        &[],
        &[],
    )
    .await;

    let record = composition(&t, "guarded", json!({})).await;

    assert_eq!(record.response.outcome, Outcome::ApplicationError);
    assert_eq!(record.response.result, json!({ "error": "invalid input" }));
    assert_eq!(t.invoker.ran(), ["check"]);
}

#[tokio::test]
async fn a_sequence_cannot_name_a_missing_action() {
    let t = TestController::start().await;
    let put = wisp_controller::ActionPut {
        exec: Some(sequence(&["/guest/ghost"])),
        ..Default::default()
    };

    let refused = t
        .controller
        .entities()
        .put_action(&t.guest, t.path("haunted"), put, false)
        .await
        .unwrap_err();

    assert_eq!(
        refused,
        ControllerError::BadRequest("Sequence component does not exist.".into())
    );
}

#[tokio::test]
async fn a_conductor_decides_each_next_step_and_keeps_its_state() {
    let t = TestController::start().await;
    action(&t, "increment", &[]).await;
    t.invoker.on(
        "increment",
        |args| json!({ "n": args["n"].as_i64().unwrap() + 1 }),
    );
    put_action(
        &t,
        &t.guest,
        "thrice",
        exec("nodejs:20"),
        &[],
        &[("conductor", json!(true))],
    )
    .await;
    // Runs `increment` until it ran three times, counting in its state.
    t.invoker.on("thrice", |args| {
        let done = args.get("$runs").and_then(Value::as_i64).unwrap_or(0);
        let n = args["n"].clone();
        if done == 3 {
            json!({ "params": { "n": n } })
        } else {
            json!({ "action": "/guest/increment", "params": { "n": n }, "state": { "$runs": done + 1 } })
        }
    });

    let record = composition(&t, "thrice", json!({ "n": 10 })).await;

    assert_eq!(record.response.outcome, Outcome::Success);
    assert_eq!(record.response.result, json!({ "n": 13 }));
    assert_eq!(
        t.invoker.ran(),
        [
            "thrice",
            "increment",
            "thrice",
            "increment",
            "thrice",
            "increment",
            "thrice"
        ]
    );
    assert_eq!(record.annotations.get("conductor"), Some(&json!(true)));
    assert_eq!(record.logs.len(), 7);
}

#[tokio::test]
async fn a_conductor_naming_a_missing_action_is_told_so() {
    let t = TestController::start().await;
    put_action(
        &t,
        &t.guest,
        "lost",
        exec("nodejs:20"),
        &[],
        &[("conductor", json!(true))],
    )
    .await;
    // The first run names a missing action; the second returns the error it was given.
    t.invoker.on("lost", |args| match args.get("error") {
        Some(error) => json!({ "params": { "seen": error } }),
        None => json!({ "action": "/guest/nowhere" }),
    });

    let record = composition(&t, "lost", json!({})).await;

    let seen = record.response.result["seen"].as_str().unwrap_or_default();
    assert!(seen.contains("nowhere"), "{}", record.response.result);
    assert_eq!(t.invoker.ran(), ["lost", "lost"]);
}

/// The primary record of a blocking invoke of the composition at `name`.
async fn composition(t: &TestController, name: &str, args: Value) -> Activation {
    match t
        .controller
        .invoke(&t.guest, &t.path(name), object(args), blocking())
        .await
        .unwrap_or_else(|e| panic!("invoke {name}: {e}"))
    {
        Invoked::Completed(record) => *record,
        Invoked::Accepted(id) => panic!("{name} did not finish in time: {id}"),
    }
}
