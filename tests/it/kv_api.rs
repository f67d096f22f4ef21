//! The key-value store from outside functions: the REST routes under
//! `/namespaces/{ns}/kv` over a real socket, the same data through a function speaking RESP,
//! and the `wisp kv` commands of the real binary.

use serde_json::{json, Value};

use crate::support::{
    admin_namespace, create_resp_client, error_message, ok, resp, stderr, stdout, Server,
};

async fn put_as(server: &Server, auth: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let request = match auth {
        Some(auth) => server.request_as(auth, reqwest::Method::PUT, path),
        None => server.request(reqwest::Method::PUT, path),
    };
    server.send(request.json(&body)).await
}

async fn get_as(server: &Server, auth: &str, path: &str) -> (u16, Value) {
    server
        .send(server.request_as(auth, reqwest::Method::GET, path))
        .await
}

#[tokio::test]
async fn rest_sets_reads_lists_counts_expires_and_deletes_keys() {
    let server = Server::start();
    let kv = "namespaces/_/kv";

    // Keys may hold `/` and `:`; the rest of the path is the key.
    let (status, body) = server
        .put(&format!("{kv}/users/1:name"), json!({"value": "Ada"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"key": "users/1:name", "ttl": null}));
    let (status, body) = server.get(&format!("{kv}/users/1:name")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"key": "users/1:name", "type": "string", "value": "Ada", "ttl": null})
    );
    // Percent-encoded, the same key.
    let (_, body) = server.get(&format!("{kv}/users%2F1%3Aname")).await;
    assert_eq!(body["value"], "Ada");

    // TTLs: on SET, through expire, read back.
    let (status, body) = server
        .put(&format!("{kv}/session"), json!({"value": "x", "ttl": 100}))
        .await;
    assert_eq!((status, &body["ttl"]), (200, &json!(100)), "{body}");
    let (_, body) = server.get(&format!("{kv}/session?op=ttl")).await;
    let ttl = body["ttl"].as_i64().unwrap();
    assert!((99..=100).contains(&ttl), "{body}");
    let (status, body) = server
        .post(&format!("{kv}/session?op=expire&seconds=50"), json!({}))
        .await;
    assert_eq!((status, &body["ttl"]), (200, &json!(50)), "{body}");
    let (_, body) = server.get(&format!("{kv}/session")).await;
    assert!((49..=50).contains(&body["ttl"].as_i64().unwrap()), "{body}");
    let (_, body) = server.get(&format!("{kv}/users/1:name?op=ttl")).await;
    assert_eq!(body, json!({"key": "users/1:name", "ttl": null}));

    // Counters.
    let (_, body) = server.post(&format!("{kv}/hits?op=incr"), json!({})).await;
    assert_eq!(body, json!({"key": "hits", "value": 1}));
    let (_, body) = server
        .post(&format!("{kv}/hits?op=incr&by=-5"), json!({}))
        .await;
    assert_eq!(body["value"], -4);

    // Lists are sorted and bounded; a prefix is literal, glob characters and all.
    server
        .put(&format!("{kv}/a%2A"), json!({"value": "1"}))
        .await;
    server.put(&format!("{kv}/ab"), json!({"value": "2"})).await;
    let (status, body) = server.get(kv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"keys": ["a*", "ab", "hits", "session", "users/1:name"], "truncated": false})
    );
    let (_, body) = server.get(&format!("{kv}?prefix=a%2A")).await;
    assert_eq!(body["keys"], json!(["a*"]));
    let (_, body) = server.get(&format!("{kv}?prefix=users/")).await;
    assert_eq!(body["keys"], json!(["users/1:name"]));
    let (_, body) = server.get(&format!("{kv}?limit=2")).await;
    assert_eq!(body, json!({"keys": ["a*", "ab"], "truncated": true}));

    // Errors, in OpenWhisk's shape.
    let (status, body) = server.get(&format!("{kv}/missing")).await;
    assert_eq!(status, 404);
    assert_eq!(
        error_message(&body),
        "The requested resource does not exist."
    );
    let (status, _) = server.get(&format!("{kv}/missing?op=ttl")).await;
    assert_eq!(status, 404);
    let (status, _) = server
        .post(&format!("{kv}/missing?op=expire&seconds=5"), json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .post(&format!("{kv}/users/1:name?op=incr"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(error_message(&body).contains("not an integer"), "{body}");
    let (status, body) = server
        .send(
            server
                .request(reqwest::Method::PUT, &format!("{kv}/k"))
                .body("not json"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    error_message(&body);
    for bad in [
        json!({"value": 1}),
        json!({"value": "v", "ttl": 0}),
        json!({}),
    ] {
        let (status, body) = server.put(&format!("{kv}/k"), bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = server.post(&format!("{kv}/k?op=frob"), json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = server.get(&format!("{kv}?limit=0")).await;
    assert_eq!(status, 400);
    let (status, _) = server.delete(&format!("{kv}/missing")).await;
    assert_eq!(status, 404);

    // Delete one key, then flush the namespace.
    let (status, body) = server.delete(&format!("{kv}/hits")).await;
    assert_eq!((status, body), (200, json!({"key": "hits"})));
    let (status, _) = server.get(&format!("{kv}/hits")).await;
    assert_eq!(status, 404);
    let (status, body) = server.delete(kv).await;
    assert_eq!((status, body), (200, json!({"deleted": 4})));
    let (_, body) = server.get(kv).await;
    assert_eq!(body["keys"], json!([]));
}

#[tokio::test]
async fn rest_and_functions_share_a_keyspace_and_namespaces_stay_apart() {
    let server = Server::start();
    let other = admin_namespace(&server, "tenant");
    create_resp_client(&server, None).await;
    let kv = "namespaces/_/kv";

    // Set through REST, seen by a function over RESP; and the other way round.
    server
        .put(&format!("{kv}/flag"), json!({"value": "on", "ttl": 300}))
        .await;
    let replies = resp(
        &server,
        None,
        json!([
            ["GET", "flag"],
            ["TTL", "flag"],
            ["RPUSH", "queue", "a", "b"],
            ["HSET", "user", "name", "Ada", "age", "36"],
            ["SADD", "tags", "y", "x"],
            ["SET", "counter", "41"]
        ]),
    )
    .await;
    assert_eq!(replies[0], "on");
    assert!(replies[1].as_i64().unwrap() > 290, "{replies}");
    let (_, body) = server.get(&format!("{kv}/queue")).await;
    assert_eq!(
        body,
        json!({"key": "queue", "type": "list", "value": ["a", "b"], "ttl": null})
    );
    let (_, body) = server.get(&format!("{kv}/user")).await;
    assert_eq!(body["type"], "hash");
    assert_eq!(body["value"], json!({"name": "Ada", "age": "36"}));
    let (_, body) = server.get(&format!("{kv}/tags")).await;
    assert_eq!(
        (&body["type"], &body["value"]),
        (&json!("set"), &json!(["x", "y"]))
    );
    let (_, body) = server
        .post(&format!("{kv}/counter?op=incr"), json!({}))
        .await;
    assert_eq!(body["value"], 42);
    let (status, body) = server.post(&format!("{kv}/queue?op=incr"), json!({})).await;
    assert_eq!(status, 409, "WRONGTYPE: {body}");
    assert_eq!(
        error_message(&body),
        "Operation against a key holding the wrong kind of value"
    );
    let replies = resp(&server, None, json!([["GET", "counter"]])).await;
    assert_eq!(replies[0], "42");

    // Another namespace: its own keys under the same names; no way into ours.
    let path = "namespaces/_/kv/flag";
    let (status, _) = get_as(&server, &other, path).await;
    assert_eq!(status, 404);
    let (status, _) = put_as(&server, Some(&other), path, json!({"value": "off"})).await;
    assert_eq!(status, 200);
    let (_, body) = get_as(&server, &other, "namespaces/tenant/kv").await;
    assert_eq!(body["keys"], json!(["flag"]));
    let (status, body) = get_as(&server, &other, "namespaces/guest/kv/flag").await;
    assert_eq!(status, 403, "{body}");
    let (_, body) = server.get(&format!("{kv}/flag")).await;
    assert_eq!(body["value"], "on");
    let (_, body) = server.delete(kv).await;
    assert_eq!(body["deleted"], 5);
    let (_, body) = get_as(&server, &other, path).await;
    assert_eq!(
        body["value"], "off",
        "a flush leaves other namespaces alone"
    );

    // Unauthenticated: 401 as everywhere.
    let (status, _) = server.send(server.http.get(server.url(kv))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_write_past_the_quota_is_refused_with_413() {
    let server = Server::start_with(&["--kv-quota-mb", "1"]);
    let kv = "namespaces/_/kv";
    let (status, _) = server
        .put(&format!("{kv}/small"), json!({"value": "x".repeat(1000)}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = server
        .put(&format!("{kv}/big"), json!({"value": "x".repeat(2 << 20)}))
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).starts_with("quota exceeded"), "{body}");
    let (status, _) = server.get(&format!("{kv}/big")).await;
    assert_eq!(status, 404, "a refused write stores nothing");
}

#[tokio::test]
async fn the_quota_holds_across_a_crash() {
    let mut server = Server::start_with(&["--kv-quota-mb", "1"]);
    let kv = "namespaces/_/kv";
    let value = json!({"value": "x".repeat(600 << 10)});
    let (status, body) = server.put(&format!("{kv}/first"), value.clone()).await;
    assert_eq!(status, 200, "{body}");
    server.kill9();
    server.launch(&["--kv-quota-mb", "1"]);
    let (status, body) = server.put(&format!("{kv}/second"), value).await;
    assert_eq!(
        status, 413,
        "the restarted store counts what it reloaded: {body}"
    );
    let (status, body) = server.get(&format!("{kv}/first")).await;
    assert_eq!(
        (status, body["value"].as_str().map(str::len)),
        (200, Some(600 << 10))
    );
}

#[tokio::test]
async fn wisp_kv_commands_from_the_command_line() {
    let server = Server::start();

    assert_eq!(
        ok(&server, &["kv", "set", "greeting", "hello"]).trim(),
        "ok: set greeting"
    );
    assert_eq!(ok(&server, &["kv", "get", "greeting"]), "hello\n");
    let json: Value =
        serde_json::from_str(&ok(&server, &["kv", "get", "greeting", "--json"])).unwrap();
    assert_eq!(json["value"], "hello");
    ok(&server, &["kv", "set", "a/b:c", "x", "--ttl", "100"]);
    let ttl: i64 = ok(&server, &["kv", "ttl", "a/b:c"]).trim().parse().unwrap();
    assert!((99..=100).contains(&ttl));
    assert_eq!(ok(&server, &["kv", "ttl", "greeting"]).trim(), "none");
    assert!(ok(&server, &["kv", "expire", "greeting", "30"]).contains("30 seconds"));
    assert_eq!(ok(&server, &["kv", "incr", "n"]).trim(), "1");
    assert_eq!(ok(&server, &["kv", "incr", "n", "--by", "9"]).trim(), "10");
    assert_eq!(ok(&server, &["kv", "list"]), "a/b:c\ngreeting\nn\n");
    assert_eq!(ok(&server, &["kv", "list", "gr"]), "greeting\n");
    let json: Value = serde_json::from_str(&ok(&server, &["kv", "list", "--json"])).unwrap();
    assert_eq!(json["keys"], json!(["a/b:c", "greeting", "n"]));

    let out = server.cli(&["kv", "get", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = server.cli(&["kv", "incr", "greeting"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not an integer"), "{}", stderr(&out));

    assert_eq!(
        ok(&server, &["kv", "del", "n", "missing"]).trim(),
        "ok: deleted 1 of 2 keys"
    );
    let out = server.cli(&["kv", "flush"]);
    assert_eq!(out.status.code(), Some(2), "flush needs --force");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        ok(&server, &["kv", "flush", "--force"]).trim(),
        "ok: deleted 2 keys"
    );
    assert_eq!(ok(&server, &["kv", "list"]), "");
}
