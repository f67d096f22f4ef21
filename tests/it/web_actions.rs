//! Web actions over a real socket, called the way a browser or curl calls them: no OpenWhisk
//! credentials unless a test says so.

use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{error_message, Server};

/// Returns its arguments: the JSON body of `.json` and `.http` calls.
const ECHO: &str = "function main(p){ return p }";

/// The annotations of a web action plus `extra` ones.
fn web(extra: &[(&str, Value)]) -> Value {
    let mut annotations = vec![json!({"key": "web-export", "value": true})];
    annotations.extend(extra.iter().map(|(k, v)| json!({"key": k, "value": v})));
    json!({ "annotations": annotations })
}

/// A request to `/api/v1/web/guest/default/{path}` without credentials.
fn call(server: &Server, method: Method, path: &str) -> reqwest::RequestBuilder {
    server.http.request(
        method,
        format!("{}/api/v1/web/guest/default/{path}", server.api_host),
    )
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request reaches the server");
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        bytes: resp.bytes().await.unwrap().to_vec(),
    }
}

async fn get(server: &Server, path: &str) -> Reply {
    send(call(server, Method::GET, path)).await
}

fn basic(auth: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(auth)
    )
}

#[tokio::test]
async fn each_extension_projects_the_result() {
    let server = Server::start();
    let page =
        r#"function main(){ return {html: "<p>hi</p>", svg: "<svg/>", text: "plain", list: [1]} }"#;
    server.action("page", "nodejs:20", page, web(&[])).await;

    let json = get(&server, "page.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(json.content_type(), "application/json");
    assert_eq!(json.json()["list"], json!([1]));
    assert!(
        json.header("x-openwhisk-activation-id")
            .is_some_and(|id| id.len() == 32),
        "every run names its activation"
    );

    let html = get(&server, "page.html").await;
    assert_eq!(
        (html.status, html.content_type()),
        (200, "text/html; charset=UTF-8")
    );
    assert_eq!(html.text(), "<p>hi</p>");

    let svg = get(&server, "page.svg").await;
    assert_eq!((svg.status, svg.content_type()), (200, "image/svg+xml"));
    assert_eq!(svg.text(), "<svg/>");

    let text = get(&server, "page.text").await;
    assert_eq!(
        (text.status, text.content_type()),
        (200, "text/plain; charset=UTF-8")
    );
    assert_eq!(text.text(), "plain");

    // No extension means .http: this result has no body, so the answer is empty.
    for path in ["page", "page.http"] {
        let http = get(&server, path).await;
        assert_eq!(http.status, 204, "{path}");
        assert!(http.bytes.is_empty());
    }

    let scalar = "function main(){ return {body: 42} }";
    server.action("scalar", "nodejs:20", scalar, web(&[])).await;
    let reply = get(&server, "scalar.html").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        error_message(&reply.json()),
        "Response is not valid 'text/html'."
    );
    let reply = get(&server, "scalar.text").await;
    assert_eq!(reply.text(), "42");
    let none = r#"function main(){ return {other: 1} }"#;
    server.action("none", "nodejs:20", none, web(&[])).await;
    let reply = get(&server, "none.text").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        error_message(&reply.json()),
        "Response does not include requested property."
    );

    // An application error projects its `error` value.
    let refuse = r#"function main(){ return {error: {statusCode: 409, body: "taken"}} }"#;
    server.action("refuse", "nodejs:20", refuse, web(&[])).await;
    let reply = get(&server, "refuse").await;
    assert_eq!((reply.status, reply.text().as_str()), (409, "taken"));
    let reply = get(&server, "refuse.json").await;
    assert_eq!(reply.json(), json!({"statusCode": 409, "body": "taken"}));
}

#[tokio::test]
async fn http_results_set_status_headers_and_binary_bodies() {
    let server = Server::start();
    let created = r#"function main(){ return {
        statusCode: 201,
        headers: {"Set-Cookie": ["a=1", "b=2"], "X-Count": 3, "Content-Type": "text/plain"},
        body: "made"
    } }"#;
    server
        .action("created", "nodejs:20", created, web(&[]))
        .await;
    let reply = get(&server, "created").await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.text(), "made");
    assert_eq!(reply.content_type(), "text/plain; charset=UTF-8");
    assert_eq!(reply.header("x-count"), Some("3"));
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"], "arrays become repeated headers");

    let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff];
    let encoded = base64::engine::general_purpose::STANDARD.encode(png);
    let image = format!(
        "function main(){{ return {{headers: {{'Content-Type': 'image/png'}}, body: '{encoded}'}} }}"
    );
    server.action("image", "nodejs:20", &image, web(&[])).await;
    let reply = get(&server, "image").await;
    assert_eq!((reply.status, reply.content_type()), (200, "image/png"));
    assert_eq!(reply.bytes, png, "the base64 body arrives as bytes");

    let object = r#"function main(){ return {statusCode: "202", body: {queued: true}} }"#;
    server.action("object", "nodejs:20", object, web(&[])).await;
    let reply = get(&server, "object").await;
    assert_eq!(
        (reply.status, reply.content_type()),
        (202, "application/json")
    );
    assert_eq!(reply.json(), json!({"queued": true}));

    let mismatch =
        r#"function main(){ return {headers: {"content-type": "text/html"}, body: {a: 1}} }"#;
    server
        .action("mismatch", "nodejs:20", mismatch, web(&[]))
        .await;
    let reply = get(&server, "mismatch").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        error_message(&reply.json()),
        "Response type in header did not match generated content type."
    );
    let list = "function main(){ return {statusCode: 'soon'} }";
    server.action("list", "nodejs:20", list, web(&[])).await;
    let reply = get(&server, "list").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        error_message(&reply.json()),
        "Response is not valid 'message/http'."
    );
}

#[tokio::test]
async fn arguments_carry_the_request() {
    let server = Server::start();
    server
        .action("echo", "nodejs:20", ECHO, web(&[("final", json!(true))]))
        .await;

    let reply = send(
        call(&server, Method::GET, "echo.json/some/path?name=Ada&n=1").header("X-Trace", "t1"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let args = reply.json();
    assert_eq!(args["__ow_method"], "get");
    assert_eq!(args["__ow_path"], "/some/path");
    assert_eq!(args["__ow_headers"]["x-trace"], "t1");
    assert_eq!((&args["name"], &args["n"]), (&json!("Ada"), &json!("1")));
    assert!(args.get("__ow_user").is_none(), "anonymous: {args}");
    assert!(args.get("__ow_body").is_none());

    let form = send(
        call(&server, Method::POST, "echo.json?a=query")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=form&b=two+words"),
    )
    .await;
    let args = form.json();
    assert_eq!(
        (&args["a"], &args["b"]),
        (&json!("form"), &json!("two words"))
    );
    assert_eq!(args["__ow_method"], "post");

    let body = send(
        call(&server, Method::PUT, "echo.json")
            .header("content-type", "application/json")
            .body(r#"{"n": 2, "deep": {"x": [1]}}"#),
    )
    .await;
    let args = body.json();
    assert_eq!((&args["n"], &args["deep"]), (&json!(2), &json!({"x": [1]})));
    assert_eq!(args["__ow_headers"]["content-type"], "application/json");

    let array = send(
        call(&server, Method::PATCH, "echo.json")
            .header("content-type", "application/json")
            .body("[1, 2]"),
    )
    .await;
    assert_eq!(array.json()["__ow_body"], json!([1, 2]));
    let text = send(
        call(&server, Method::DELETE, "echo.json")
            .header("content-type", "text/plain")
            .body("just text"),
    )
    .await;
    assert_eq!(text.json()["__ow_body"], "just text");
    assert_eq!(text.json()["__ow_method"], "delete");

    // Valid credentials name the caller; invalid ones are ignored, not refused.
    let reply =
        send(call(&server, Method::GET, "echo.json").header("authorization", basic(&server.auth)))
            .await;
    assert_eq!(reply.json()["__ow_user"], "guest");
    let wrong = format!("{}x", server.auth);
    let reply =
        send(call(&server, Method::GET, "echo.json").header("authorization", basic(&wrong))).await;
    assert_eq!(reply.status, 200);
    assert!(reply.json().get("__ow_user").is_none());

    // The activation is the owner's, recorded in the owner's namespace.
    let id = reply
        .header("x-openwhisk-activation-id")
        .unwrap()
        .to_string();
    let record = server.wait_for_activation(&id).await;
    assert_eq!(
        (&record["namespace"], &record["name"]),
        (&json!("guest"), &json!("echo"))
    );
    assert_eq!(record["subject"], "guest");
}

#[tokio::test]
async fn reserved_and_final_parameters_cannot_be_overridden() {
    let server = Server::start();
    let fixed = json!({"parameters": [{"key": "greeting", "value": "hello"}]});
    let mut final_web = web(&[("final", json!(true))]);
    final_web["parameters"] = fixed["parameters"].clone();
    server.action("fixed", "nodejs:20", ECHO, final_web).await;
    let mut open_web = web(&[]);
    open_web["parameters"] = fixed["parameters"].clone();
    server.action("open", "nodejs:20", ECHO, open_web).await;

    let message = "Request defines parameters that are not allowed (e.g., reserved properties).";
    for path in [
        "fixed.json?greeting=bye",
        "open.json?__ow_user=admin",
        "open.json?__ow_method=put",
    ] {
        let reply = get(&server, path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(error_message(&reply.json()), message, "{path}");
    }
    let reply = send(
        call(&server, Method::POST, "fixed.json")
            .header("content-type", "application/json")
            .body(r#"{"greeting": "bye"}"#),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(error_message(&reply.json()), message);

    let reply = get(&server, "open.json?greeting=bye").await;
    assert_eq!(
        reply.json()["greeting"],
        "bye",
        "without final, requests override"
    );
    let reply = get(&server, "fixed.json?other=1").await;
    assert_eq!(
        (&reply.json()["greeting"], &reply.json()["other"]),
        (&json!("hello"), &json!("1"))
    );
}

#[tokio::test]
async fn raw_http_actions_get_the_query_and_body_unparsed() {
    let server = Server::start();
    let annotations = web(&[("raw-http", json!(true)), ("final", json!(true))]);
    server.action("raw", "nodejs:20", ECHO, annotations).await;

    let reply = send(
        call(&server, Method::POST, "raw.json?a=1&__ow_user=x")
            .header("content-type", "application/json")
            .body(r#"{"b":2}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let args = reply.json();
    assert_eq!(args["__ow_query"], "a=1&__ow_user=x");
    let body = base64::engine::general_purpose::STANDARD
        .decode(args["__ow_body"].as_str().unwrap())
        .unwrap();
    assert_eq!(body, br#"{"b":2}"#, "JSON arrives as base64");
    assert!(args.get("a").is_none() && args.get("b").is_none());
    assert!(args.get("__ow_user").is_none());

    let reply = send(
        call(&server, Method::POST, "raw.json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("c=3"),
    )
    .await;
    assert_eq!(reply.json()["__ow_body"], "c=3");
    assert_eq!(get(&server, "raw.json").await.json()["__ow_body"], "");
}

#[tokio::test]
async fn require_whisk_auth_by_key_or_secret() {
    let server = Server::start();
    let echo_user = "function main(p){ return {user: p.__ow_user || null} }";
    server
        .action(
            "keyed",
            "nodejs:20",
            echo_user,
            web(&[("require-whisk-auth", json!(true))]),
        )
        .await;
    server
        .action(
            "secret",
            "nodejs:20",
            echo_user,
            web(&[("require-whisk-auth", json!("s3cret"))]),
        )
        .await;
    server
        .action(
            "numeric",
            "nodejs:20",
            echo_user,
            web(&[("require-whisk-auth", json!(12345))]),
        )
        .await;

    let reply = get(&server, "keyed.json").await;
    assert_eq!(reply.status, 401);
    assert!(reply.header("www-authenticate").is_none());
    let wrong = format!("{}x", server.auth);
    let reply =
        send(call(&server, Method::GET, "keyed.json").header("authorization", basic(&wrong))).await;
    assert_eq!(reply.status, 401);
    let reply =
        send(call(&server, Method::GET, "keyed.json").header("authorization", basic(&server.auth)))
            .await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"user": "guest"}))
    );

    // Any valid key will do, not only the owner's.
    let alice = crate::support::admin_namespace(&server, "alice");
    let reply =
        send(call(&server, Method::GET, "keyed.json").header("authorization", basic(&alice))).await;
    assert_eq!(
        (reply.status, reply.json()),
        (200, json!({"user": "alice"}))
    );

    for (path, header) in [
        ("secret.json", None),
        ("secret.json", Some("wrong")),
        ("numeric.json", Some("1234")),
    ] {
        let mut req = call(&server, Method::GET, path);
        if let Some(value) = header {
            req = req.header("x-require-whisk-auth", value);
        }
        assert_eq!(send(req).await.status, 401, "{path} {header:?}");
    }
    let reply =
        send(call(&server, Method::GET, "secret.json").header("x-require-whisk-auth", "s3cret"))
            .await;
    assert_eq!((reply.status, reply.json()), (200, json!({"user": null})));
    let reply =
        send(call(&server, Method::GET, "numeric.json").header("x-require-whisk-auth", "12345"))
            .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn options_and_cors() {
    let server = Server::start();
    let counted = "function main(p){ return {statusCode: 200, headers: {'x-ran': p.__ow_method}, body: 'ran'} }";
    server
        .action(
            "plain",
            "nodejs:20",
            counted,
            web(&[("require-whisk-auth", json!("s"))]),
        )
        .await;
    server
        .action(
            "custom",
            "nodejs:20",
            counted,
            web(&[
                ("web-custom-options", json!(true)),
                ("require-whisk-auth", json!("s")),
            ]),
        )
        .await;

    let preflight = send(
        call(&server, Method::OPTIONS, "plain")
            .header("access-control-request-headers", "x-custom"),
    )
    .await;
    assert_eq!(preflight.status, 200);
    assert!(preflight.bytes.is_empty());
    assert!(
        preflight.header("x-ran").is_none(),
        "the action did not run"
    );
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("x-custom")
    );

    let reply = send(call(&server, Method::GET, "plain").header("x-require-whisk-auth", "s")).await;
    assert_eq!((reply.status, reply.header("x-ran")), (200, Some("get")));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
    );
    let head = send(call(&server, Method::HEAD, "plain").header("x-require-whisk-auth", "s")).await;
    assert_eq!((head.status, head.header("x-ran")), (200, Some("head")));
    assert!(head.bytes.is_empty());

    // web-custom-options: OPTIONS runs the action (without the auth check), no CORS headers.
    let custom = send(call(&server, Method::OPTIONS, "custom")).await;
    assert_eq!(
        (custom.status, custom.header("x-ran")),
        (200, Some("options"))
    );
    assert_eq!(custom.text(), "ran");
    assert!(custom.header("access-control-allow-origin").is_none());
    let reply =
        send(call(&server, Method::GET, "custom").header("x-require-whisk-auth", "s")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("access-control-allow-origin").is_none());
    assert!(reply.header("access-control-allow-methods").is_none());
    assert_eq!(send(call(&server, Method::GET, "custom")).await.status, 401);

    // The REST API keeps its own CORS headers.
    let (status, _) = server.get("namespaces").await;
    assert_eq!(status, 200);
    let rest = send(server.request(Method::GET, "namespaces")).await;
    assert_eq!(
        rest.header("access-control-allow-methods"),
        Some("GET, DELETE, POST, PUT, HEAD")
    );
}

#[tokio::test]
async fn missing_and_unexported_actions_are_not_found() {
    let server = Server::start();
    server.action("hidden", "nodejs:20", ECHO, json!({})).await;
    server
        .action(
            "off",
            "nodejs:20",
            ECHO,
            json!({"annotations": [{"key": "web-export", "value": false}]}),
        )
        .await;
    server.action("echo", "nodejs:20", ECHO, web(&[])).await;
    let base = format!("{}/api/v1/web", server.api_host);
    for path in [
        "guest/default/hidden.json",
        "guest/default/off.json",
        "guest/default/missing.json",
        "nobody/default/echo.json",
        "guest/nopackage/echo.json",
        "guest/default",
    ] {
        let reply = send(server.http.get(format!("{base}/{path}"))).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(
            error_message(&reply.json()),
            "The requested resource does not exist.",
            "{path}"
        );
    }
    let reply = send(server.http.get(format!("{base}/guest/default/echo.json"))).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn bad_requests_failures_and_large_bodies() {
    let server = Server::start();
    server.action("echo", "nodejs:20", ECHO, web(&[])).await;
    let throws = "function main(){ throw new Error('boom') }";
    server.action("throws", "nodejs:20", throws, web(&[])).await;

    let reply = send(
        call(&server, Method::POST, "echo.json")
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(error_message(&reply.json()).starts_with("The request content was malformed"));

    let reply = get(&server, "throws").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        error_message(&reply.json()),
        "There was an error processing your request."
    );
    let id = reply
        .header("x-openwhisk-activation-id")
        .expect("the failed run is named");
    let record = server.wait_for_activation(id).await;
    assert_eq!(record["response"]["status"], "action developer error");

    let big = vec![b'a'; 1024 * 1024 + 1];
    let reply = send(
        call(&server, Method::POST, "echo.json")
            .header("content-type", "text/plain")
            .body(big),
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        error_message(&reply.json()),
        "Request larger than allowed: 1048577 > 1048576 bytes."
    );
}

#[tokio::test]
async fn the_cli_makes_web_actions_and_prints_their_url() {
    let server = Server::start();
    let file = server.home().join("page.js");
    std::fs::write(
        &file,
        "function main(p){ return {body: `<b>${p.name}</b>`} }",
    )
    .unwrap();
    let out = server.cli(&[
        "action",
        "create",
        "page",
        file.to_str().unwrap(),
        "--web",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = server.cli(&["action", "get", "page", "--url"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(
        url,
        format!("{}/api/v1/web/guest/default/page", server.api_host)
    );
    let reply = send(server.http.get(format!("{url}?name=Ada"))).await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "<b>Ada</b>"));

    let out = server.cli(&["action", "update", "page", "--web-secure", "pw"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(send(server.http.get(&url)).await.status, 401);
    let reply = send(server.http.get(&url).header("x-require-whisk-auth", "pw")).await;
    assert_eq!(reply.status, 200);
    let out = server.cli(&["action", "update", "page", "--web", "false"]);
    assert!(out.status.success());
    assert_eq!(send(server.http.get(&url)).await.status, 404);
}

#[tokio::test]
async fn a_run_longer_than_the_wait_answers_202_and_finishes_in_a_record() {
    let server = Server::start_with(&["--max-blocking-wait", "1"]);
    let slow =
        "function main(){ return new Promise(r => setTimeout(() => r({body: 'late'}), 2500)) }";
    server.action("slow", "nodejs:20", slow, web(&[])).await;
    let reply = get(&server, "slow").await;
    assert_eq!(reply.status, 202);
    assert_eq!(error_message(&reply.json()), "Response not yet ready.");
    let id = reply
        .header("x-openwhisk-activation-id")
        .expect("the 202 names the activation");
    let record = server.wait_for_activation(id).await;
    assert_eq!(record["response"]["result"], json!({"body": "late"}));
}
