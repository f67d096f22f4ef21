//! `/namespaces/{ns}/kv`: the bodies, statuses and error texts of the key-value routes over an
//! embedded store.

use axum::http::{Method, StatusCode};
use serde_json::json;
use wisp_kv::Command;

use crate::support::App;

const KV: &str = "/api/v1/namespaces/_/kv";

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// Runs `command` in the guest's keyspace directly, as a function over RESP would.
async fn direct(app: &App, command: Command) {
    let kv = app.kv.as_ref().expect("an app with a key-value store");
    let reply = kv.store.execute("guest", command).await;
    assert!(!matches!(reply, wisp_kv::Reply::Error(_)), "{reply:?}");
}

#[tokio::test]
async fn a_string_is_put_read_counted_up_and_deleted() {
    let app = App::with_kv(1 << 20).await;

    let put = app
        .put(&format!("{KV}/users/1:name"), json!({"value": "ada"}))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body, json!({"key": "users/1:name", "ttl": null}));
    let read = app.get(&format!("{KV}/users/1:name")).await;
    assert_eq!(
        read.body,
        json!({"key": "users/1:name", "type": "string", "value": "ada", "ttl": null})
    );
    let ttl = app.get(&format!("{KV}/users/1:name?op=ttl")).await;
    assert_eq!(ttl.body, json!({"key": "users/1:name", "ttl": null}));

    let app = &app;
    let incr =
        |query: &'static str| async move { app.post(&format!("{KV}/n{query}"), json!({})).await };
    assert_eq!(incr("?op=incr").await.body, json!({"key": "n", "value": 1}));
    assert_eq!(
        incr("?op=incr&by=-5").await.body,
        json!({"key": "n", "value": -4})
    );
    let bad_by = incr("?op=incr&by=x").await;
    assert_eq!(bad_by.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_by.error(), "The value 'x' of 'by' is not an integer.");
    let not_a_number = app
        .post(&format!("{KV}/users/1:name?op=incr"), json!({}))
        .await;
    assert_eq!(not_a_number.status, StatusCode::CONFLICT);
    assert_eq!(
        not_a_number.error(),
        "value is not an integer or out of range"
    );

    let deleted = app.delete(&format!("{KV}/users/1:name")).await;
    assert_eq!(deleted.body, json!({"key": "users/1:name"}));
    for path in ["users/1:name", "users/1:name?op=ttl"] {
        let gone = app.get(&format!("{KV}/{path}")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{path}");
        gone.error();
    }
    let again = app.delete(&format!("{KV}/users/1:name")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn expiry_is_set_at_put_or_later_and_read_in_seconds() {
    let app = App::with_kv(1 << 20).await;

    let put = app
        .put(&format!("{KV}/session"), json!({"value": "s", "ttl": 100}))
        .await;
    assert_eq!(put.body, json!({"key": "session", "ttl": 100}));
    let ttl = app.get(&format!("{KV}/session?op=ttl")).await.body;
    assert!(
        matches!(ttl["ttl"].as_u64(), Some(99..=100)),
        "a ttl of about 100 s: {ttl}"
    );
    let too_long = app
        .put(
            &format!("{KV}/session"),
            json!({"value": "s", "ttl": u64::MAX}),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_long.error(), "'ttl' is too large.");

    app.put(&format!("{KV}/k"), json!({"value": "v"})).await;
    let expire = app
        .post(&format!("{KV}/k?op=expire&seconds=30"), json!({}))
        .await;
    assert_eq!(expire.body, json!({"key": "k", "ttl": 30}));
    let entry = app.get(&format!("{KV}/k")).await.body;
    assert!(matches!(entry["ttl"].as_u64(), Some(29..=30)), "{entry}");
    let missing = app
        .post(&format!("{KV}/absent?op=expire&seconds=30"), json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for (query, message) in [
        (
            "op=expire&seconds=-1",
            "'seconds' must be a number of seconds (0 or more).",
        ),
        (
            &format!("op=expire&seconds={}", u64::MAX) as &str,
            "'seconds' is too large.",
        ),
        (
            "op=drop",
            "Unknown op 'drop'; this method takes op=incr or op=expire.",
        ),
        ("", "POST on a key needs op=incr or op=expire."),
    ] {
        let reply = app.post(&format!("{KV}/k?{query}"), json!({})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error(), message, "{query}");
    }
    let unknown = app.get(&format!("{KV}/k?op=size")).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error(), "Unknown op 'size'; this method takes ttl.");
}

#[tokio::test]
async fn lists_sets_hashes_and_binary_values_read_as_json() {
    let app = App::with_kv(1 << 20).await;
    direct(
        &app,
        Command::Push {
            key: bytes("queue"),
            left: false,
            values: vec![bytes("b"), bytes("a")],
        },
    )
    .await;
    direct(
        &app,
        Command::SAdd(bytes("tags"), vec![bytes("z"), bytes("x"), bytes("y")]),
    )
    .await;
    direct(
        &app,
        Command::HSet {
            key: bytes("user"),
            pairs: vec![(bytes("name"), bytes("ada")), (bytes("age"), bytes("36"))],
            hmset: false,
        },
    )
    .await;
    direct(
        &app,
        Command::set(bytes("blob"), vec![0xff, 0x00], None).unwrap(),
    )
    .await;

    let app = &app;
    let read = |key: &'static str| async move { app.get(&format!("{KV}/{key}")).await.body };
    assert_eq!(
        read("queue").await,
        json!({"key": "queue", "type": "list", "value": ["b", "a"], "ttl": null})
    );
    assert_eq!(
        read("tags").await,
        json!({"key": "tags", "type": "set", "value": ["x", "y", "z"], "ttl": null})
    );
    assert_eq!(
        read("user").await,
        json!({"key": "user", "type": "hash", "value": {"name": "ada", "age": "36"}, "ttl": null})
    );
    assert_eq!(
        read("blob").await,
        json!({"key": "blob", "type": "string", "value": {"base64": "/wA="}, "ttl": null})
    );
    let wrong_type = app.post(&format!("{KV}/queue?op=incr"), json!({})).await;
    assert_eq!(wrong_type.status, StatusCode::CONFLICT);
    assert_eq!(
        wrong_type.error(),
        "Operation against a key holding the wrong kind of value"
    );
}

#[tokio::test]
async fn listings_are_sorted_bounded_and_flushed() {
    let app = App::with_kv(1 << 20).await;
    for key in ["b/2", "a/1", "b/1", "c"] {
        app.put(&format!("{KV}/{key}"), json!({"value": "v"})).await;
    }

    let all = app.get(KV).await;
    assert_eq!(
        all.body,
        json!({"keys": ["a/1", "b/1", "b/2", "c"], "truncated": false})
    );
    let page = app.get(&format!("{KV}?prefix=b/&limit=1")).await;
    assert_eq!(page.body, json!({"keys": ["b/1"], "truncated": true}));
    let bad = app.get(&format!("{KV}?limit=0")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let flushed = app.send(Method::DELETE, KV, None).await;
    assert_eq!(flushed.body, json!({"deleted": 4}));
    assert_eq!(
        app.get(KV).await.body,
        json!({"keys": [], "truncated": false})
    );
}

#[tokio::test]
async fn a_write_past_the_quota_is_413() {
    let app = App::with_kv(64).await;
    let big = "x".repeat(100);

    let refused = app.put(&format!("{KV}/big"), json!({"value": big})).await;

    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        refused.error().starts_with("quota exceeded"),
        "{}",
        refused.error()
    );
    assert_eq!(
        app.get(&format!("{KV}/big")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn without_a_store_the_routes_are_503() {
    let app = App::start().await;

    let reply = app.get(&format!("{KV}/k")).await;

    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error(), "the key-value store is not running");
}
