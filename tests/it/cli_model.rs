//! `wisp package|trigger|rule` against a real server, as a user types them, including the
//! client-side feed lifecycle.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{annotation, json_of, ok, source, stderr, stdout, Server};

/// Polls the API until `name` has at least `n` activation records; returns them, oldest first.
async fn activations_of(server: &Server, name: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, list) = server
            .get(&format!("namespaces/_/activations?name={name}&docs=true"))
            .await;
        assert_eq!(status, 200, "{list}");
        let mut records = list.as_array().cloned().unwrap_or_default();
        if records.len() >= n {
            records.reverse();
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{name} has {} activations, not {n}",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ECHO: &str = "function main(p) { return p }";

#[tokio::test]
async fn packages_and_bindings_from_the_command_line() {
    let server = Server::start();
    let echo = source(&server, "echo.js", ECHO);

    let out = ok(
        &server,
        &[
            "package",
            "create",
            "tools",
            "-p",
            "greeting",
            "Hi",
            "-p",
            "who",
            "Package",
            "-a",
            "description",
            "handy",
        ],
    );
    assert_eq!(out, "ok: created package tools\n");
    ok(&server, &["action", "create", "tools/echo", &echo]);
    let out = ok(
        &server,
        &[
            "package", "bind", "tools", "mytools", "-p", "who", "Binding",
        ],
    );
    assert_eq!(out, "ok: created binding mytools\n");

    // bound package < binding < invoke
    let out = ok(
        &server,
        &["action", "invoke", "mytools/echo", "-p", "n", "2", "-r"],
    );
    assert_eq!(
        json_of(&out),
        json!({"greeting": "Hi", "who": "Binding", "n": 2})
    );

    let out = ok(&server, &["package", "update", "tools", "--shared", "yes"]);
    assert_eq!(out, "ok: updated package tools\n");
    let list = ok(&server, &["package", "list"]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["Name", "Visibility", "Binding", "Version", "Updated"]
    );
    assert!(
        rows.iter()
            .any(|r| r[..3] == ["/guest/tools", "shared", "-"]),
        "{list}"
    );
    assert!(
        rows.iter()
            .any(|r| r[..3] == ["/guest/mytools", "private", "/guest/tools"]),
        "{list}"
    );
    assert_eq!(ok(&server, &["package", "list", "--count"]).trim(), "2");

    let summary = ok(&server, &["package", "get", "mytools", "--summary"]);
    assert!(summary.starts_with("package /guest/mytools\n"), "{summary}");
    assert!(summary.contains("binding     /guest/tools"), "{summary}");
    assert!(summary.contains("actions     echo"), "{summary}");
    let tools = json_of(&ok(&server, &["package", "get", "tools"]));
    assert_eq!(tools["publish"], true);
    assert_eq!(annotation(&tools, "description"), Some(&json!("handy")));

    let refused = server.cli(&["package", "delete", "tools"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "a package with actions stays"
    );
    assert!(!stderr(&refused).is_empty());
    assert_eq!(
        ok(&server, &["package", "delete", "mytools"]),
        "ok: deleted package mytools\n"
    );
    ok(&server, &["package", "delete", "tools", "--force"]);
    let (status, _) = server.get("namespaces/_/actions/tools/echo").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn triggers_fire_rules_that_can_be_disabled() {
    let server = Server::start();
    let record = source(
        &server,
        "record.js",
        "function main(p) { return {n: p.n, source: p.source} }",
    );
    ok(&server, &["action", "create", "record", &record]);

    let out = ok(
        &server,
        &["trigger", "create", "ticks", "-p", "source", "cli"],
    );
    assert_eq!(out, "ok: created trigger ticks\n");
    let out = ok(&server, &["rule", "create", "onTick", "ticks", "record"]);
    assert_eq!(out, "ok: created rule onTick\n");
    assert_eq!(
        ok(&server, &["rule", "status", "onTick"]),
        "ok: rule onTick is active\n"
    );

    let out = ok(&server, &["trigger", "fire", "ticks", "-p", "n", "7"]);
    let id = out
        .trim()
        .strip_prefix("ok: triggered /_/ticks with id ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let trigger_record = server.wait_for_activation(&id).await;
    let line = json_of(trigger_record["logs"][0].as_str().unwrap());
    let fired = line["activationId"].as_str().unwrap().to_string();
    server.wait_for_activation(&fired).await;
    let result = json_of(&ok(&server, &["activation", "result", &fired]));
    assert_eq!(result, json!({"n": 7, "source": "cli"}));

    let rules = ok(&server, &["rule", "list"]);
    assert!(
        rules.lines().any(|l| l.starts_with("/guest/onTick")
            && l.contains("/guest/ticks")
            && l.contains("/guest/record")),
        "{rules}"
    );
    let triggers = ok(&server, &["trigger", "list"]);
    assert!(triggers.contains("/guest/ticks"), "{triggers}");
    let trigger = json_of(&ok(&server, &["trigger", "get", "ticks"]));
    assert_eq!(
        trigger["parameters"],
        json!([{"key": "source", "value": "cli"}])
    );

    assert_eq!(
        ok(&server, &["rule", "disable", "onTick"]),
        "ok: disabled rule onTick\n"
    );
    assert_eq!(
        ok(&server, &["rule", "status", "onTick"]),
        "ok: rule onTick is inactive\n"
    );
    assert_eq!(
        ok(&server, &["trigger", "fire", "ticks"]),
        "ok: triggered /_/ticks, but no active rule fired\n"
    );
    assert_eq!(
        ok(&server, &["rule", "enable", "onTick"]),
        "ok: enabled rule onTick\n"
    );
    let rule = json_of(&ok(&server, &["rule", "get", "onTick"]));
    assert_eq!(rule["status"], "active");
    assert_eq!(rule["action"], json!({"path": "guest", "name": "record"}));

    let missing = server.cli(&["rule", "create", "r2", "nope", "record"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );

    assert_eq!(
        ok(&server, &["rule", "delete", "onTick"]),
        "ok: deleted rule onTick\n"
    );
    assert_eq!(
        ok(&server, &["trigger", "delete", "ticks"]),
        "ok: deleted trigger ticks\n"
    );
    let gone = server.cli(&["trigger", "get", "ticks"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("The requested resource does not exist."));
}

/// A feed that reports what it was asked.
const TICKER: &str = "function main(p) {
  return {event: p.lifecycleEvent, trigger: p.triggerName, auth: p.authKey, cron: p.cron}
}";

#[tokio::test]
async fn feeds_hear_of_trigger_create_update_and_delete() {
    let server = Server::start();
    let ticker = source(&server, "ticker.js", TICKER);
    ok(&server, &["package", "create", "feeds"]);
    ok(&server, &["action", "create", "feeds/ticker", &ticker]);

    let out = ok(
        &server,
        &[
            "trigger",
            "create",
            "clock",
            "--feed",
            "feeds/ticker",
            "-p",
            "cron",
            "* * * * *",
        ],
    );
    assert_eq!(out, "ok: created trigger clock\n");
    let trigger = json_of(&ok(&server, &["trigger", "get", "clock"]));
    assert_eq!(
        annotation(&trigger, "feed"),
        Some(&json!("/guest/feeds/ticker"))
    );
    assert_eq!(
        trigger["parameters"],
        json!([]),
        "the parameters went to the feed"
    );
    let listed = ok(&server, &["trigger", "list"]);
    assert!(listed.contains("/guest/feeds/ticker"), "{listed}");

    ok(
        &server,
        &["trigger", "update", "clock", "-p", "cron", "0 * * * *"],
    );
    // An annotation update keeps the feed link.
    ok(&server, &["trigger", "update", "clock", "-a", "note", "x"]);
    let trigger = json_of(&ok(&server, &["trigger", "get", "clock"]));
    assert_eq!(
        annotation(&trigger, "feed"),
        Some(&json!("/guest/feeds/ticker"))
    );
    assert_eq!(
        ok(&server, &["trigger", "delete", "clock"]),
        "ok: deleted trigger clock\n"
    );

    let records = activations_of(&server, "feeds/ticker", 3).await;
    let results: Vec<&Value> = records.iter().map(|r| &r["response"]["result"]).collect();
    let expect = |event: &str, cron: Option<&str>| {
        let mut expected = json!({"event": event, "trigger": "/guest/clock", "auth": server.auth});
        if let Some(cron) = cron {
            expected["cron"] = json!(cron);
        }
        expected
    };
    assert_eq!(
        results,
        [
            &expect("CREATE", Some("* * * * *")),
            &expect("UPDATE", Some("0 * * * *")),
            &expect("DELETE", None)
        ]
    );
}

#[tokio::test]
async fn a_feed_that_fails_leaves_no_trigger_and_a_gone_feed_does_not_block_delete() {
    let server = Server::start();
    let broken = source(
        &server,
        "broken.js",
        "function main(p) { return {error: 'cannot watch ' + p.url} }",
    );
    ok(&server, &["action", "create", "broken", &broken]);
    let out = server.cli(&[
        "trigger", "create", "watch", "--feed", "broken", "-p", "url", "x",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("cannot watch x"), "{}", stderr(&out));
    assert!(stderr(&out).contains("/guest/broken"), "{}", stderr(&out));
    let (status, _) = server.get("namespaces/_/triggers/watch").await;
    assert_eq!(status, 404, "the trigger was removed again");

    let missing = server.cli(&["trigger", "create", "w2", "--feed", "nothere"]);
    assert_eq!(missing.status.code(), Some(1));
    let (status, _) = server.get("namespaces/_/triggers/w2").await;
    assert_eq!(status, 404);

    // A trigger whose feed action was deleted can still be deleted.
    let fine = source(&server, "fine.js", ECHO);
    ok(&server, &["action", "create", "fine", &fine]);
    ok(&server, &["trigger", "create", "w3", "--feed", "fine"]);
    ok(&server, &["action", "delete", "fine"]);
    let out = server.cli(&["trigger", "delete", "w3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the feed /guest/fine is gone"),
        "{}",
        stderr(&out)
    );
    let (status, _) = server.get("namespaces/_/triggers/w3").await;
    assert_eq!(status, 404);
}
