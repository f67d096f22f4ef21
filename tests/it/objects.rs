//! Object storage from outside functions: the REST routes under `/namespaces/{ns}/objects`
//! over a real socket, signed URLs fetched with no credentials, the `wisp object` commands of
//! the real binary, and objects surviving `kill -9`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{admin_namespace, error_message, json_of, ok, stderr, Server};

const OBJECTS: &str = "namespaces/_/objects";

async fn put_bytes(server: &Server, auth: Option<&str>, key: &str, body: Vec<u8>) -> (u16, Value) {
    let request = server.request_by(auth, Method::PUT, &format!("{OBJECTS}/{key}"));
    server.send(request.body(body)).await
}

async fn get_bytes(server: &Server, auth: Option<&str>, key: &str) -> (u16, Vec<u8>) {
    let request = server.request_by(auth, Method::GET, &format!("{OBJECTS}/{key}"));
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Bytes that are not all the same, so a misplaced chunk would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn rest_puts_gets_lists_and_deletes_objects() {
    let server = Server::start();

    let (status, body) = server
        .send(
            server
                .request(Method::PUT, &format!("{OBJECTS}/docs/readme.txt"))
                .header("content-type", "text/markdown")
                .body("hello objects"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["key"], "docs/readme.txt");
    assert_eq!(body["size"], 13);
    assert_eq!(body["contentType"], "text/markdown");
    let etag = body["etag"].as_str().unwrap().to_string();

    let response = server
        .request(Method::GET, &format!("{OBJECTS}/docs/readme.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/markdown");
    assert_eq!(headers["etag"], format!("\"{etag}\"").as_str());
    assert!(headers.contains_key("last-modified"));
    assert_eq!(response.text().await.unwrap(), "hello objects");

    // HEAD: the headers, no body.
    let response = server
        .request(Method::HEAD, &format!("{OBJECTS}/docs/readme.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "13");

    // A range.
    let response = server
        .request(Method::GET, &format!("{OBJECTS}/docs/readme.txt"))
        .header("range", "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 6-12/13");
    assert_eq!(response.text().await.unwrap(), "objects");

    // Without a content type, one is guessed from the key.
    put_bytes(&server, None, "site/index.html", b"<p>hi</p>".to_vec()).await;
    let response = server
        .request(Method::HEAD, &format!("{OBJECTS}/site/index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );

    // Lists: key order, prefix, paging.
    put_bytes(&server, None, "docs/a.bin", vec![1, 2, 3]).await;
    let (status, body) = server.get(OBJECTS).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["docs/a.bin", "docs/readme.txt", "site/index.html"]);
    assert_eq!(body["truncated"], false);
    let (_, body) = server.get(&format!("{OBJECTS}?prefix=docs/&limit=1")).await;
    assert_eq!(body["objects"][0]["key"], "docs/a.bin");
    assert_eq!(body["objects"][0]["size"], 3);
    assert_eq!(body["truncated"], true);
    let (_, body) = server
        .get(&format!("{OBJECTS}?prefix=docs/&after=docs/a.bin"))
        .await;
    assert_eq!(body["objects"][0]["key"], "docs/readme.txt");
    assert_eq!(body["truncated"], false);

    // Replacing changes the version.
    let (_, body) = put_bytes(&server, None, "docs/readme.txt", b"v2".to_vec()).await;
    assert_ne!(body["etag"], etag.as_str());
    assert_eq!(get_bytes(&server, None, "docs/readme.txt").await.1, b"v2");

    // Delete, then it is gone.
    let (status, body) = server.delete(&format!("{OBJECTS}/docs/readme.txt")).await;
    assert_eq!((status, body), (200, json!({"key": "docs/readme.txt"})));
    let (status, body) = server.delete(&format!("{OBJECTS}/docs/readme.txt")).await;
    assert_eq!(status, 404);
    error_message(&body);
    let (status, body) = server.get(&format!("{OBJECTS}/docs/readme.txt")).await;
    assert_eq!(status, 404);
    error_message(&body);
}

#[tokio::test]
async fn bad_keys_unknown_ops_and_missing_credentials_get_clear_errors() {
    let server = Server::start();
    for key in ["a//b", "a%2F.%2Fb", "dir/"] {
        let (status, body) = put_bytes(&server, None, key, b"x".to_vec()).await;
        assert_eq!(status, 400, "{key}: {body}");
        assert!(error_message(&body).contains("The key"), "{body}");
    }
    // URL handling resolves `.` and `..` segments away before a route sees them; an encoded
    // `/` keeps them in the key.
    let (status, body) = put_bytes(&server, None, "a%2F..%2F..%2Fb", b"x".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("'..'"), "{body}");
    let (status, body) = put_bytes(&server, None, &"k".repeat(1100), b"x".to_vec()).await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = server
        .post(&format!("{OBJECTS}/k?op=nope"), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .post(&format!("{OBJECTS}/k?op=url&expires=604801"), json!({}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(error_message(&body).contains("7 days"), "{body}");

    let response = server
        .http
        .get(server.url(&format!("{OBJECTS}/k")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, body) = server.get(&format!("{OBJECTS}?limit=0")).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn namespaces_never_reach_each_others_objects() {
    let server = Server::start();
    let other = admin_namespace(&server, "other");
    put_bytes(&server, None, "secret.txt", b"guest's".to_vec()).await;
    let (status, _) = put_bytes(&server, Some(&other), "secret.txt", b"other's".to_vec()).await;
    assert_eq!(status, 200);

    // The same key in `_` is each caller's own.
    assert_eq!(get_bytes(&server, None, "secret.txt").await.1, b"guest's");
    assert_eq!(
        get_bytes(&server, Some(&other), "secret.txt").await.1,
        b"other's"
    );

    // Naming the other namespace is refused, for every method.
    for (method, path) in [
        (Method::GET, "namespaces/guest/objects/secret.txt"),
        (Method::PUT, "namespaces/guest/objects/secret.txt"),
        (Method::DELETE, "namespaces/guest/objects/secret.txt"),
        (Method::POST, "namespaces/guest/objects/secret.txt?op=url"),
        (Method::GET, "namespaces/guest/objects"),
    ] {
        let (status, body) = server
            .send(server.request_as(&other, method.clone(), path).body("x"))
            .await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        error_message(&body);
    }
    // The other's listing holds only its own object; deleting it leaves the guest's.
    let (_, body) = server
        .send(server.request_as(&other, Method::GET, OBJECTS))
        .await;
    assert_eq!(body["objects"].as_array().unwrap().len(), 1);
    let (status, _) = server
        .send(server.request_as(&other, Method::DELETE, &format!("{OBJECTS}/secret.txt")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(get_bytes(&server, None, "secret.txt").await.1, b"guest's");
}

#[tokio::test]
async fn signed_urls_move_large_files_without_credentials() {
    let server = Server::start();
    // Larger than the 1 MB an invoke may carry.
    let big = pattern(3 * 1024 * 1024 + 17);
    let (status, body) = put_bytes(&server, None, "data/big.bin", big.clone()).await;
    assert_eq!(status, 200, "{body}");

    let (status, signed) = server
        .post(
            &format!("{OBJECTS}/data/big.bin?op=url&expires=60"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["method"], "GET");
    let url = signed["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&server.api_host), "{url}");
    assert!(
        url.contains("/namespaces/guest/objects/data/big.bin?"),
        "{url}"
    );

    // Plain reqwest, no Authorization header.
    let plain = reqwest::Client::new();
    let response = plain.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        big.len().to_string().as_str()
    );
    let downloaded = response.bytes().await.unwrap();
    assert!(downloaded[..] == big[..], "the download differs");
    // A GET URL also answers HEAD, but is no licence to write.
    assert_eq!(plain.head(&url).send().await.unwrap().status(), 200);
    let response = plain.put(&url).body("overwrite").send().await.unwrap();
    assert_eq!(response.status(), 403);

    // Tampered: another key, another expiry, another signature.
    for tampered in [
        url.replace("big.bin", "big2.bin"),
        url.replace("expires=", "expires=1"),
        // The signature's last digit, changed.
        format!(
            "{}{}",
            &url[..url.len() - 1],
            if url.ends_with('0') { '1' } else { '0' }
        ),
        url.replace("/guest/", "/other/"),
    ] {
        let response = plain.get(&tampered).send().await.unwrap();
        assert_eq!(response.status(), 403, "{tampered}");
        let body: Value = response.json().await.unwrap();
        error_message(&body);
    }

    // Upload through a signed PUT URL, also larger than 1 MB.
    let (status, signed) = server
        .post(
            &format!("{OBJECTS}/uploads/in.bin?op=url&method=PUT"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{signed}");
    let put_url = signed["url"].as_str().unwrap();
    let upload = pattern(2 * 1024 * 1024 + 5);
    let response = plain
        .put(put_url)
        .body(upload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(get_bytes(&server, None, "uploads/in.bin").await.1, upload);
    // ... which does not read.
    assert_eq!(plain.get(put_url).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn expired_signed_urls_are_refused() {
    let server = Server::start();
    put_bytes(&server, None, "soon.txt", b"gone soon".to_vec()).await;
    let (_, signed) = server
        .post(&format!("{OBJECTS}/soon.txt?op=url&expires=1"), json!({}))
        .await;
    let url = signed["url"].as_str().unwrap();
    let plain = reqwest::Client::new();
    assert_eq!(plain.get(url).send().await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = plain.get(url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert!(error_message(&body).contains("expired"), "{body}");
}

#[tokio::test]
async fn uploads_are_bounded_by_the_upload_limit_and_the_quota() {
    let server = Server::start_with(&["--objects-max-upload-mb", "1", "--objects-quota-mb", "2"]);
    let (status, body) = put_bytes(&server, None, "big", pattern(1024 * 1024 + 1)).await;
    assert_eq!(status, 413, "{body}");
    error_message(&body);
    for key in ["one", "two"] {
        let (status, body) = put_bytes(&server, None, key, pattern(1000 * 1024)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = put_bytes(&server, None, "three", pattern(100 * 1024)).await;
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("quota"), "{body}");
    let (status, _) = server.get(&format!("{OBJECTS}/three")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn cli_round_trips_a_file() {
    let server = Server::start();
    let local = server.home().join("model.bin");
    let contents = pattern(1536 * 1024);
    std::fs::write(&local, &contents).unwrap();
    let local = local.to_str().unwrap();

    let out = ok(&server, &["object", "put", local, "models/tiny.bin"]);
    assert!(
        out.contains("ok: stored models/tiny.bin (1572864 bytes)"),
        "{out}"
    );
    // Without a key, the file's name.
    let out = ok(&server, &["object", "put", local, "--json"]);
    assert_eq!(json_of(&out)["key"], "model.bin");

    let out = ok(&server, &["object", "list"]);
    assert!(out.contains("1572864  models/tiny.bin"), "{out}");
    let listed = json_of(&ok(&server, &["object", "list", "models/", "--json"]));
    assert_eq!(listed["objects"].as_array().unwrap().len(), 1);

    let copy = server.home().join("copy.bin");
    let out = ok(
        &server,
        &["object", "get", "models/tiny.bin", copy.to_str().unwrap()],
    );
    assert!(out.contains("(1572864 bytes)"), "{out}");
    assert!(std::fs::read(&copy).unwrap() == contents);
    let out = server.cli(&["object", "get", "model.bin", "-"]);
    assert!(out.status.success());
    assert!(out.stdout == contents);

    let url = ok(
        &server,
        &["object", "url", "models/tiny.bin", "--expires", "120"],
    );
    let fetched = reqwest::get(url.trim())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(fetched[..] == contents[..]);
    let put_url = ok(&server, &["object", "url", "notes.txt", "--put"]);
    let response = reqwest::Client::new()
        .put(put_url.trim())
        .body("from a signed URL")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let out = ok(&server, &["object", "get", "notes.txt", "-"]);
    assert_eq!(out, "from a signed URL");

    let out = ok(&server, &["object", "delete", "models/tiny.bin"]);
    assert!(out.contains("ok: deleted models/tiny.bin"), "{out}");
    let out = server.cli(&["object", "get", "models/tiny.bin", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    // The failed download left the earlier copy whole and no partial file.
    assert!(std::fs::read(&copy).unwrap() == contents);
    assert!(!server.home().join("copy.bin.part").exists());
    let out = server.cli(&["object", "put", "/no/such/file"]);
    assert!(
        stderr(&out).contains("cannot open /no/such/file"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn objects_and_signed_urls_survive_kill_9() {
    let mut server = Server::start();
    let contents = pattern(200 * 1024);
    let (status, _) = put_bytes(&server, None, "kept/file.bin", contents.clone()).await;
    assert_eq!(status, 200);
    let (_, signed) = server
        .post(&format!("{OBJECTS}/kept/file.bin?op=url"), json!({}))
        .await;
    let url = signed["url"].as_str().unwrap().to_string();

    server.kill9();
    server.launch(&[]);

    assert_eq!(get_bytes(&server, None, "kept/file.bin").await.1, contents);
    let (_, body) = server.get(OBJECTS).await;
    assert_eq!(body["objects"][0]["key"], "kept/file.bin");
    // The signing secret is kept too, so the URL handed out before still works (the port is
    // new, the path and signature are not).
    let path = &url[url.find("/api/v1/").unwrap() + "/api/v1/".len()..];
    let response = reqwest::get(server.url(path)).await.unwrap();
    assert_eq!(response.status(), 200);
}
