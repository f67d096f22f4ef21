//! Bad input gets OpenWhisk's error shape and the right status, never a 500.

use serde_json::json;

use crate::support::{error_message, Server};

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400() {
    let server = Server::start();
    let put = |body: &'static str| {
        server
            .request(reqwest::Method::PUT, "namespaces/_/actions/x")
            .header("content-type", "application/json")
            .body(body)
    };
    for body in ["{not json", "[1,2]", "\"text\"", ""] {
        let (status, err) = server.send(put(body)).await;
        assert_eq!(status, 400, "{body:?} -> {err}");
        assert!(error_message(&err).starts_with("The request content was malformed"));
    }
    let cases = [
        (json!({}), "exec undefined"),
        (
            json!({"exec": {"kind": "nodejs:20", "code": 42}}),
            "'code' in 'exec' must be a string",
        ),
        (
            json!({"exec": {"kind": "nodejs:20"}}),
            "'code' must be a string defined in 'exec' for 'nodejs:20' actions",
        ),
        (
            json!({"exec": {"kind": "java:8", "code": "x"}}),
            "The specified runtime 'java:8' is not supported by this platform.",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "limits": {"memory": 1024}}),
            "memory 1024 MB exceeds allowed threshold of 512 MB",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "limits": {"timeout": 10}}),
            "timeout 10 milliseconds below allowed threshold of 100 milliseconds",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "limits": {"logs": 11}}),
            "log size 11 MB exceeds allowed threshold of 10 MB",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "limits": {"memory": "lots"}}),
            "'memory' in 'limits' must be a whole number",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "parameters": {"a": 1}}),
            "'parameters' must be an array",
        ),
        (
            json!({"exec": {"kind": "nodejs:20", "code": "x"}, "version": "one"}),
            "'one' is not a semantic version",
        ),
    ];
    for (body, expected) in cases {
        let (status, err) = server.put("namespaces/_/actions/x", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {err}");
        assert!(error_message(&err).contains(expected), "{body} -> {err}");
    }
    let (status, _) = server.get("namespaces/_/actions/x").await;
    assert_eq!(status, 404, "nothing was created by bad requests");
}

#[tokio::test]
async fn names_credentials_and_sizes() {
    let server = Server::start();
    let (status, err) = server
        .put(
            "namespaces/_/actions/bad$name",
            json!({"exec": {"kind": "nodejs:20", "code": "x"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&err),
        "The name of the entity contains illegal characters."
    );
    let long = "a".repeat(257);
    let (status, err) = server
        .put(
            &format!("namespaces/_/actions/{long}"),
            json!({"exec": {"kind": "nodejs:20", "code": "x"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&err),
        "Name segement longer than allowed: 257 > 256."
    );
    for collection in ["packages", "triggers", "rules"] {
        let body = json!({"trigger": "/_/t", "action": "/_/a"});
        let (status, err) = server
            .put(&format!("namespaces/_/{collection}/{long}"), body.clone())
            .await;
        assert_eq!(status, 400, "{collection}");
        assert_eq!(
            error_message(&err),
            "Name segement longer than allowed: 257 > 256."
        );
        let (status, _) = server
            .put(&format!("namespaces/_/{collection}/bad$name"), body)
            .await;
        assert_eq!(status, 400, "{collection}");
    }
    let (status, _) = server.get("namespaces/bad$ns/actions").await;
    assert_eq!(status, 400);

    let anonymous = server
        .http
        .get(server.url("namespaces/_/actions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let (status, err) = server
        .send(server.request_as(
            "nobody:nothing",
            reqwest::Method::GET,
            "namespaces/_/actions",
        ))
        .await;
    assert_eq!(status, 401);
    error_message(&err);
    let wrong_key = format!("{}:wrong", server.auth.split(':').next().unwrap());
    let (status, _) = server
        .send(server.request_as(&wrong_key, reqwest::Method::GET, "namespaces/_/actions"))
        .await;
    assert_eq!(status, 401);
    let garbage = server
        .http
        .get(server.url("namespaces/_/actions"))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);

    server
        .action(
            "small",
            "nodejs:20",
            "function main(p){ return {} }",
            json!({}),
        )
        .await;
    let big = json!({"blob": "x".repeat(1024 * 1024 + 10)});
    let (status, err) = server
        .post("namespaces/_/actions/small?blocking=true", big)
        .await;
    assert_eq!(status, 413);
    assert!(error_message(&err).starts_with("Request larger than allowed:"));
    let (status, err) = server
        .post(
            "namespaces/_/actions/small?blocking=true&timeout=0",
            json!({}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&err),
        "Timeout must be number of milliseconds up to 60000."
    );
    let (status, err) = server
        .post("namespaces/_/actions/missing?blocking=true", json!({}))
        .await;
    assert_eq!(status, 404);
    error_message(&err);

    let code = "x".repeat(48 * 1024 * 1024 + 1);
    let (status, err) = server
        .put(
            "namespaces/_/actions/huge",
            json!({"exec": {"kind": "nodejs:20", "code": code}}),
        )
        .await;
    assert_eq!(status, 413);
    assert!(error_message(&err).starts_with("exec larger than allowed"));

    let (status, err) = server.get("namespaces/_/actions?limit=500").await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&err),
        "The value '500' is not in the range of 0 to 200 for actions."
    );
    let (status, err) = server.get("namespaces/_/nonsense").await;
    assert_eq!(status, 404);
    error_message(&err);
    let (status, err) = server
        .send(server.request(reqwest::Method::PATCH, "namespaces/_/actions/small"))
        .await;
    assert_eq!(status, 405);
    error_message(&err);
}

#[tokio::test]
async fn throttles_answer_429() {
    let server = Server::start_with(&["--invocations-per-minute", "3"]);
    server
        .action(
            "tick",
            "nodejs:20",
            "function main(){ return {} }",
            json!({}),
        )
        .await;
    for _ in 0..3 {
        let (status, _) = server.invoke("tick", json!({})).await;
        assert_eq!(status, 200);
    }
    // Windows are whole minutes: if the test straddles a boundary one more call is admitted,
    // but within the next four calls one must be refused.
    let mut refused = None;
    for _ in 0..4 {
        let (status, err) = server.invoke("tick", json!({})).await;
        if status == 429 {
            refused = Some(err);
            break;
        }
        assert_eq!(status, 200);
    }
    let err = refused.expect("the fourth call in a minute is refused");
    assert_eq!(
        error_message(&err),
        "Too many requests in the last minute (count: 3, allowed: 3)."
    );
}

/// One raw HTTP/1.1 request with `host` as its `Host` header: (status, body).
async fn with_host(server: &Server, host: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.api_host.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    (status, body)
}

#[tokio::test]
async fn odd_host_names_and_object_keys_get_a_4xx_naming_no_path_of_the_server() {
    let server = Server::start();
    let data = server.data_dir().to_string_lossy().into_owned();
    let port = server.api_host.rsplit(':').next().unwrap().to_string();
    let long = "a".repeat(300);
    let too_long = "a".repeat(64);
    for label in [long.as_str(), too_long.as_str(), "a b", "-a", "a!"] {
        for path in ["/", "/index.html", "/api/v1/namespaces"] {
            let host = format!("{label}.localhost:{port}");
            let (status, body) = with_host(&server, &host, path).await;
            assert_eq!(status, 400, "{label} {path}: {body}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(error_message(&body).contains("Host"), "{body}");
        }
    }
    let (status, _) = with_host(
        &server,
        &format!("{}.localhost:{port}", "a".repeat(63)),
        "/",
    )
    .await;
    assert_eq!(status, 404, "a valid label names a site with no files");
    let (status, body) = server
        .send(
            server
                .http
                .get(format!("{}/sites/{long}/", server.api_host)),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    // Keys the local store cannot hold as files are refused before it is asked.
    let segment = "k".repeat(300);
    let two = format!("{segment}/{segment}");
    let wide = "%E6%97%A5".repeat(81);
    for key in [
        segment.as_str(),
        two.as_str(),
        wide.as_str(),
        "a%00b",
        "..%2Fx",
    ] {
        for method in [
            reqwest::Method::PUT,
            reqwest::Method::GET,
            reqwest::Method::DELETE,
        ] {
            let request = server
                .request(method.clone(), &format!("namespaces/_/objects/{key}"))
                .body("x");
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_eq!(status, 400, "{method} {key}: {body}");
            assert!(
                !body.contains(&data) && !body.contains("/objects/"),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn nimbellas_remote_build_services_say_to_build_locally() {
    let server = Server::start();
    for path in [
        "namespaces/nimbella/actions/builder/build_nodejs_14?blocking=true",
        "namespaces/nimbella/actions/builder/getUploadUrl?blocking=true",
        "namespaces/nimbella/actions/websupport/getSignedUrl?blocking=true",
    ] {
        let (status, body) = server.post(path, json!({"toBuild": "slice"})).await;
        assert_eq!(status, 501, "{path}: {body}");
        let message = error_message(&body);
        assert!(message.contains("build locally"), "{path}: {message}");
        assert!(body["code"].is_string(), "OpenWhisk's error shape: {body}");
    }
}
