//! Alarm schedules survive `kill -9`: a `once` alarm whose date passed while the server was down
//! fires once when it is back, and a cron alarm goes on firing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::Server;

const ECHO: &str = "function main(params) { return params }";

/// A trigger `name` with a rule to the `echo` action.
async fn wired_trigger(server: &Server, name: &str, feed: &str) {
    let (status, body) = server
        .put(
            &format!("namespaces/_/triggers/{name}"),
            json!({"annotations": [{"key": "feed", "value": feed}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .put(
            &format!("namespaces/_/rules/{name}-rule"),
            json!({"trigger": format!("/_/{name}"), "action": "/_/echo"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn create_alarm(server: &Server, feed: &str, trigger: &str, params: Value) {
    let mut args = json!({
        "lifecycleEvent": "CREATE",
        "triggerName": format!("/guest/{trigger}"),
        "authKey": server.auth,
    });
    args.as_object_mut()
        .unwrap()
        .extend(params.as_object().unwrap().clone());
    let (status, body) = server
        .post(
            &format!("namespaces/whisk.system/actions/alarms/{feed}?blocking=true"),
            args,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Results of the echo action's activations whose `source` is `source`.
async fn fires(server: &Server, source: &str) -> Vec<Value> {
    let (status, list) = server
        .get("namespaces/_/activations?name=echo&docs=true&limit=200")
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["response"]["result"].clone())
        .filter(|r| r["source"] == source)
        .collect()
}

async fn wait_for_fires(server: &Server, source: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = fires(server, source).await;
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn alarms_survive_kill_9_and_a_missed_once_fires_at_start() {
    let mut server = Server::start();
    server.action("echo", "nodejs:20", ECHO, json!({})).await;
    wired_trigger(&server, "once", "/whisk.system/alarms/once").await;
    wired_trigger(&server, "tick", "/whisk.system/alarms/alarm").await;
    let date = wisp_core::time::now_ms() + 2000;
    create_alarm(
        &server,
        "once",
        "once",
        json!({"date": date, "trigger_payload": {"source": "once"}}),
    )
    .await;
    create_alarm(
        &server,
        "alarm",
        "tick",
        json!({"cron": "* * * * * *", "trigger_payload": {"source": "tick"}}),
    )
    .await;

    server.kill9();
    // Down past the once alarm's date.
    tokio::time::sleep(Duration::from_millis(
        date.saturating_sub(wisp_core::time::now_ms()) + 500,
    ))
    .await;
    server.launch(&[]);
    let once = wait_for_fires(&server, "once", 1).await;
    assert_eq!(once.len(), 1, "the missed once alarm fires at start");
    let ticks = wait_for_fires(&server, "tick", 2).await;
    assert!(ticks.len() >= 2, "the cron alarm fires after the restart");

    // And stays single: no second fire of the once alarm.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fires(&server, "once").await.len(), 1);
}
