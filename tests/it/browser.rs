//! The example projects, deployed with the CLI and used in a real headless Chromium (Debian's
//! `chromium`, driven by `playwright-core`; both installed by scripts/test.sh): the page loads
//! from the namespace's own host, its buttons call the site's functions at `/api/...`, and what
//! they store is in the key-value store.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{ok, Server};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Deploys `examples/<name>` and returns the site URL the deploy printed.
fn deploy_example(server: &Server, name: &str) -> String {
    let dir = repo().join("examples").join(name);
    let out = ok(server, &["project", "deploy", dir.to_str().unwrap()]);
    out.lines()
        .find_map(|line| line.strip_prefix("site: "))
        .unwrap_or_else(|| panic!("the deploy printed no site URL: {out}"))
        .to_string()
}

/// Runs `tests/browser/drive.js <scenario> <url>`; what the page showed.
fn drive(scenario: &str, url: &str) -> Value {
    let root = repo();
    let driver = root.join("tests/browser/node_modules/playwright-core");
    assert!(
        driver.is_dir(),
        "playwright-core is not installed: run scripts/test.sh, which installs tests/browser's \
         packages and Debian's chromium"
    );
    // drive.js starts the browser at $CHROMIUM, else Debian's.
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    crate::tools::require(&chromium, crate::tools::CHROMIUM);
    let output = Command::new("node")
        .current_dir(&root)
        .args(["tests/browser/drive.js", scenario, url])
        .stdin(Stdio::null())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed:\n{stderr}\n{stdout}"
    );
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

#[tokio::test]
async fn the_visit_counter_counts_clicks_in_a_real_browser() {
    let server = Server::start();
    let url = deploy_example(&server, "visit-counter");
    let port = server.api_host.rsplit(':').next().unwrap();
    assert_eq!(url, format!("http://guest.localhost:{port}/"));

    let seen = drive("counter", &url);
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["title"], "Visit counter");
    assert_eq!(seen["initial"], 0, "{seen}");
    assert_eq!(seen["afterFirst"], 1, "{seen}");
    assert_eq!(seen["afterSecond"], 2, "{seen}");
    assert_eq!(
        seen["afterReload"], 2,
        "the count is stored, not kept by the page: {seen}"
    );

    let (status, stored) = server.get("namespaces/_/kv/visits").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["value"], "2");
}

#[tokio::test]
async fn the_todo_app_keeps_its_list_and_routes_in_a_real_browser() {
    let server = Server::start();
    let url = deploy_example(&server, "todo");
    let seen = drive("todo", &url);
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["status"], 200);
    assert_eq!(
        seen["all"],
        serde_json::json!(["water the plants", "write the tests"])
    );
    assert_eq!(
        seen["doneStatus"], 200,
        "SPA mode answers a client route with 200: {seen}"
    );
    assert_eq!(seen["donePath"], "/done");
    assert_eq!(seen["done"], serde_json::json!(["water the plants"]));
    assert_eq!(seen["open"], serde_json::json!(["write the tests"]));
    assert_eq!(seen["emptyError"], "give the to-do a text");

    let (status, stored) = server.get("namespaces/_/kv/todos").await;
    assert_eq!(status, 200, "{stored}");
    let todos: Value = serde_json::from_str(stored["value"].as_str().unwrap()).unwrap();
    assert_eq!(todos[0]["text"], "water the plants");
    assert_eq!(todos[0]["done"], true);
    assert_eq!(todos[1]["done"], false);
}
