//! Each namespace's static site: `wisp project deploy` uploads `web/`, and the server serves it
//! at `<namespace>.localhost:<port>` (reached the way a browser does: the name resolves to
//! loopback) and at `/sites/<namespace>/`, with `/api/...` reaching the namespace's web actions.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{ok, stderr, Server};

fn project(server: &Server, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let root = server.home().join(name);
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    root
}

fn deploy(server: &Server, root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["project", "deploy", root.to_str().unwrap()];
    args.extend(extra);
    ok(server, &args)
}

fn address(server: &Server) -> SocketAddr {
    server
        .api_host
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// A browser-like client for which `guest.localhost` is this server.
fn browser(server: &Server) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve("guest.localhost", address(server))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn site_url(server: &Server, path: &str) -> String {
    format!("http://guest.localhost:{}{path}", address(server).port())
}

async fn fetch(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Fetched {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the site answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    Fetched {
        status,
        headers,
        body,
    }
}

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `target` as written (no client-side normalisation, as `curl --path-as-is` does);
/// the status code.
async fn raw_status(server: &Server, method: &str, target: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(address(server))
        .await
        .unwrap();
    let request =
        format!("{method} {target} HTTP/1.1\r\nHost: guest.localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"))
}

const INDEX: &str = "<!doctype html><title>Home</title><h1>Welcome home</h1>";
const HELLO_WEB: &str =
    "function main(args) { return { greeting: 'Hello, ' + (args.name || 'you') + '!' }; }";

fn site_project(server: &Server) -> PathBuf {
    let big_script = format!(
        "// app\n{}",
        "console.log('padding the script');\n".repeat(200)
    );
    project(
        server,
        "site",
        &[
            ("packages/demo/hello.js", HELLO_WEB.as_bytes()),
            ("web/index.html", INDEX.as_bytes()),
            ("web/docs/index.html", b"<h1>Docs</h1>"),
            ("web/app.js", big_script.as_bytes()),
            ("web/404.html", b"<h1>Nothing here</h1>"),
            ("web/logo.png", &[0x89, b'P', b'N', b'G', 13, 10, 26, 10]),
        ],
    )
}

#[tokio::test]
async fn a_deployed_site_is_served_on_its_own_host_and_calls_its_functions_at_api() {
    let server = Server::start();
    let root = site_project(&server);
    let out = deploy(&server, &root, &[]);
    let port = address(&server).port();
    assert!(out.contains("upload    web     index.html"), "{out}");
    assert!(
        out.contains("ok: web content: 5 uploaded, 0 unchanged, 0 deleted"),
        "{out}"
    );
    assert!(
        out.contains(&format!("site: http://guest.localhost:{port}/")),
        "{out}"
    );
    let client = browser(&server);

    let home = fetch(&client, &site_url(&server, "/"), &[]).await;
    assert_eq!(home.status, 200);
    assert_eq!(home.text(), INDEX);
    assert!(
        home.header("content-type").starts_with("text/html"),
        "{}",
        home.header("content-type")
    );
    assert_eq!(
        home.header("cache-control"),
        "no-cache",
        "Nimbella's default"
    );

    let script = fetch(&client, &site_url(&server, "/app.js"), &[]).await;
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").contains("javascript"));
    let png = fetch(&client, &site_url(&server, "/logo.png"), &[]).await;
    assert_eq!(png.header("content-type"), "image/png");

    // A directory without its slash is sent to its proper URL, then answers its index page.
    let docs = fetch(&client, &site_url(&server, "/docs?x=1"), &[]).await;
    assert_eq!(docs.status, 308);
    assert_eq!(docs.header("location"), "/docs/?x=1");
    let docs = fetch(&client, &site_url(&server, "/docs/"), &[]).await;
    assert_eq!((docs.status, docs.text().as_str()), (200, "<h1>Docs</h1>"));

    let missing = fetch(&client, &site_url(&server, "/no/such/page"), &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.text(),
        "<h1>Nothing here</h1>",
        "the site's own 404 page"
    );

    // The front end calls its functions on its own origin.
    let api = fetch(
        &client,
        &site_url(&server, "/api/demo/hello.json?name=Ada"),
        &[],
    )
    .await;
    assert_eq!(api.status, 200, "{}", api.text());
    let answer: Value = serde_json::from_slice(&api.body).unwrap();
    assert_eq!(answer["greeting"], "Hello, Ada!");

    // The same site at the path form, for hosts without wildcard DNS.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("{}/sites/guest", server.api_host);
    let home = fetch(&plain, &format!("{base}/"), &[]).await;
    assert_eq!((home.status, home.text().as_str()), (200, INDEX));
    let bare = fetch(&plain, &base, &[]).await;
    assert_eq!(
        (bare.status, bare.header("location")),
        (308, "/sites/guest/")
    );
    let docs = fetch(&plain, &format!("{base}/docs"), &[]).await;
    assert_eq!(docs.header("location"), "/sites/guest/docs/");
    let api = fetch(&plain, &format!("{base}/api/demo/hello.json?name=Bo"), &[]).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&api.body).unwrap()["greeting"],
        "Hello, Bo!"
    );

    // The API itself is untouched on the server's own address.
    let (status, _) = server.get("namespaces/_/actions").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn files_answer_conditional_range_and_compressed_requests() {
    let server = Server::start();
    deploy(&server, &site_project(&server), &[]);
    let client = browser(&server);
    let url = site_url(&server, "/app.js");
    let full = fetch(&client, &url, &[]).await;
    let etag = full.header("etag").to_string();
    let modified = full.header("last-modified").to_string();
    assert!(etag.starts_with('"'), "{etag}");
    assert_eq!(full.header("accept-ranges"), "bytes");

    let again = fetch(&client, &url, &[("if-none-match", &etag)]).await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), etag);
    let since = fetch(&client, &url, &[("if-modified-since", &modified)]).await;
    assert_eq!(since.status, 304);
    let stale = fetch(&client, &url, &[("if-none-match", "\"not-this-one\"")]).await;
    assert_eq!(stale.status, 200);

    let part = fetch(&client, &url, &[("range", "bytes=3-8")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, full.body[3..9]);
    let total = full.body.len();
    assert_eq!(part.header("content-range"), format!("bytes 3-8/{total}"));
    let tail = fetch(&client, &url, &[("range", "bytes=-5")]).await;
    assert_eq!(tail.body, full.body[total - 5..]);
    let beyond = fetch(
        &client,
        &url,
        &[("range", &format!("bytes={}-", total + 10))],
    )
    .await;
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), format!("bytes */{total}"));
    let outdated = fetch(
        &client,
        &url,
        &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(
        outdated.status, 200,
        "a range of an older version gets the whole file"
    );

    let gzipped = fetch(&client, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzipped.header("content-encoding"), "gzip");
    assert_eq!(gzipped.header("vary"), "Accept-Encoding");
    assert!(
        gzipped.body.len() < total / 4,
        "{} of {total}",
        gzipped.body.len()
    );
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gzipped.body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, full.body);
    let brotli = fetch(&client, &url, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(brotli.header("content-encoding"), "br");
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&brotli.body[..], 4096)
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, full.body);
    assert_ne!(
        brotli.header("etag"),
        etag,
        "each coding is its own representation"
    );
    let revalidated = fetch(
        &client,
        &url,
        &[
            ("accept-encoding", "br"),
            ("if-none-match", brotli.header("etag")),
        ],
    )
    .await;
    assert_eq!(revalidated.status, 304);

    let png = fetch(
        &client,
        &site_url(&server, "/logo.png"),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(
        png.header("content-encoding"),
        "",
        "images are not recompressed"
    );

    // A redeployed file is served at once, with a new ETag.
    std::fs::write(server.home().join("site/web/app.js"), "console.log('v2');").unwrap();
    deploy(&server, &server.home().join("site"), &[]);
    let changed = fetch(&client, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(
        (changed.status, changed.text().as_str()),
        (200, "console.log('v2');")
    );
}

#[tokio::test]
async fn a_large_file_streams_with_ranges() {
    let server = Server::start();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let root = project(&server, "media", &[("web/video.bin", &big)]);
    deploy(&server, &root, &[]);
    let client = browser(&server);
    let url = site_url(&server, "/video.bin");
    let whole = fetch(&client, &url, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-length"), big.len().to_string());
    assert!(whole.body == big, "the whole file arrives");
    let part = fetch(&client, &url, &[("range", "bytes=2000000-2000099")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, big[2_000_000..2_000_100]);
    assert_eq!(
        part.header("content-range"),
        format!("bytes 2000000-2000099/{}", big.len())
    );
}

#[tokio::test]
async fn spa_mode_answers_routes_with_the_index_page_and_the_404_page_is_configurable() {
    let server = Server::start();
    let root = project(
        &server,
        "spa",
        &[
            ("web/index.html", INDEX.as_bytes()),
            ("web/oops.html", b"<h1>Lost?</h1>"),
            (
                "project.yml",
                b"bucket:\n  spa: true\n  notFoundPage: oops.html\n  useCache: true\n",
            ),
        ],
    );
    deploy(&server, &root, &[]);
    let client = browser(&server);
    let route = fetch(&client, &site_url(&server, "/settings/profile"), &[]).await;
    assert_eq!((route.status, route.text().as_str()), (200, INDEX));
    assert_eq!(route.header("cache-control"), "public, max-age=3600");
    let asset = fetch(&client, &site_url(&server, "/missing.css"), &[]).await;
    assert_eq!(
        (asset.status, asset.text().as_str()),
        (404, "<h1>Lost?</h1>")
    );

    // Turning SPA mode off again takes effect on the next deploy.
    std::fs::write(
        root.join("project.yml"),
        "bucket:\n  notFoundPage: oops.html\n",
    )
    .unwrap();
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("site settings"), "{out}");
    let route = fetch(&client, &site_url(&server, "/settings/profile"), &[]).await;
    assert_eq!(route.status, 404);
    assert_eq!(route.header("cache-control"), "no-cache");
}

#[tokio::test]
async fn traversal_and_platform_files_are_refused() {
    let server = Server::start();
    deploy(&server, &site_project(&server), &[]);
    for target in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2fetc",
        "/docs%2Findex.html",
        "/docs%5cindex.html",
        "/sites/guest/../../api/v1/namespaces",
    ] {
        assert_eq!(raw_status(&server, "GET", target).await, 400, "{target}");
    }
    let client = browser(&server);
    let settings = fetch(&client, &site_url(&server, "/.wisp/site.json"), &[]).await;
    assert_eq!(
        settings.status, 404,
        "the platform's own files are not served"
    );
    let record = fetch(&client, &site_url(&server, "/.wisp/deployed.json"), &[]).await;
    assert_eq!(record.status, 404);
    assert_eq!(raw_status(&server, "POST", "/index.html").await, 405);
    assert_eq!(raw_status(&server, "DELETE", "/").await, 405);
    // Another namespace's site, or one that does not exist, has nothing of guest's.
    let stranger = reqwest::Client::builder()
        .resolve("nobody.localhost", address(&server))
        .build()
        .unwrap();
    let url = format!(
        "http://nobody.localhost:{}/index.html",
        address(&server).port()
    );
    let other = fetch(&stranger, &url, &[]).await;
    assert_eq!(other.status, 404);
    assert!(!other.text().contains("Welcome home"));
}

/// The web bucket's objects by key: (etag, size).
async fn web_objects(server: &Server) -> std::collections::BTreeMap<String, String> {
    let (status, listing) = server.get("namespaces/_/objects?bucket=web").await;
    assert_eq!(status, 200, "{listing}");
    listing["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_string(),
                o["etag"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(key, _)| !key.starts_with(".wisp/"))
        .collect()
}

#[tokio::test]
async fn redeploys_upload_only_changed_files_and_prune_removes_only_this_projects() {
    let server = Server::start();
    let root = site_project(&server);
    deploy(&server, &root, &[]);
    let first = web_objects(&server).await;
    assert_eq!(first.len(), 5);

    let out = deploy(&server, &root, &[]);
    assert!(
        out.contains("ok: web content: 0 uploaded, 5 unchanged, 0 deleted"),
        "{out}"
    );
    assert_eq!(
        web_objects(&server).await,
        first,
        "nothing was written again"
    );

    std::fs::write(root.join("web/docs/index.html"), "<h1>Docs v2</h1>").unwrap();
    let out = deploy(&server, &root, &[]);
    assert!(
        out.contains("ok: web content: 1 uploaded, 4 unchanged"),
        "{out}"
    );
    let second = web_objects(&server).await;
    for (key, etag) in &first {
        assert_eq!(second[key] == *etag, key != "docs/index.html", "{key}");
    }

    // A file put there by hand is not the project's: prune leaves it.
    let (status, _) = server
        .send(
            server
                .request(
                    reqwest::Method::PUT,
                    "namespaces/_/objects/notes.txt?bucket=web",
                )
                .body("mine"),
        )
        .await;
    assert_eq!(status, 200);
    std::fs::remove_file(root.join("web/logo.png")).unwrap();
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("keep      web     logo.png"), "{out}");
    assert!(
        web_objects(&server).await.contains_key("logo.png"),
        "kept without --prune"
    );
    let out = deploy(&server, &root, &["--prune"]);
    assert!(
        out.contains("ok: web content: 0 uploaded, 4 unchanged, 1 deleted"),
        "{out}"
    );
    let after = web_objects(&server).await;
    assert!(!after.contains_key("logo.png"));
    assert!(after.contains_key("notes.txt"));

    // A file deleted behind the deployer's back is uploaded again.
    let (status, _) = server
        .delete("namespaces/_/objects/app.js?bucket=web")
        .await;
    assert_eq!(status, 200);
    let out = deploy(&server, &root, &[]);
    assert!(
        out.contains("ok: web content: 1 uploaded, 3 unchanged"),
        "{out}"
    );
}

#[tokio::test]
async fn a_failed_build_uploads_no_web_content() {
    let server = Server::start();
    let root = project(
        &server,
        "broken",
        &[
            ("web/index.html", INDEX.as_bytes()),
            (
                "packages/demo/fail/build.sh",
                b"#!/bin/sh\necho 'compile error: x' >&2\nexit 3\n",
            ),
            ("packages/demo/fail/index.js", b"exports.main = () => ({})"),
        ],
    );
    let out = server.cli(&["project", "deploy", root.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("compile error: x"),
        "{}",
        stderr(&out)
    );
    assert!(
        web_objects(&server).await.is_empty(),
        "nothing was uploaded"
    );
}

/// What an S3 client that does not type its files uploads (`nim web create` through the AWS
/// SDK): `application/octet-stream`. The site serves such files as their names say.
#[tokio::test]
async fn files_uploaded_as_octet_stream_are_served_as_their_names_say() {
    let server = Server::start();
    let big_script = "console.log('padding');\n".repeat(60_000);
    for (key, body) in [
        ("page.html", INDEX.as_bytes().to_vec()),
        ("big.js", big_script.into_bytes()),
        ("data.bin", vec![0u8, 1, 2, 3]),
    ] {
        let request = server
            .request(
                reqwest::Method::PUT,
                &format!("namespaces/_/objects/{key}?bucket=web"),
            )
            .header("content-type", "application/octet-stream")
            .body(body);
        let (status, answer) = server.send(request).await;
        assert_eq!(status, 200, "{key}: {answer}");
    }
    let client = browser(&server);
    let page = fetch(&client, &site_url(&server, "/page.html"), &[]).await;
    assert!(
        page.header("content-type").starts_with("text/html"),
        "{}",
        page.header("content-type")
    );
    // Past the in-memory cache's size: served from storage, typed the same way.
    let script = fetch(&client, &site_url(&server, "/big.js"), &[]).await;
    assert!(
        script.header("content-type").contains("javascript"),
        "{}",
        script.header("content-type")
    );
    let data = fetch(&client, &site_url(&server, "/data.bin"), &[]).await;
    assert_eq!(data.header("content-type"), "application/octet-stream");
}

/// `nim` prints a namespace's site as `<namespace>-<API host name>`: that host form is served
/// too (here with `localhost`, always a site domain).
#[tokio::test]
async fn the_host_form_nim_prints_serves_the_site() {
    let server = Server::start();
    let root = site_project(&server);
    deploy(&server, &root, &[]);
    let client = reqwest::Client::builder()
        .resolve("guest-localhost", address(&server))
        .build()
        .unwrap();
    let url = format!("http://guest-localhost:{}/", address(&server).port());
    let home = fetch(&client, &url, &[]).await;
    assert_eq!(home.status, 200);
    assert_eq!(home.text(), INDEX);
}
