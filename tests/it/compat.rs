//! The compatibility suite: `tests/compat/*.js` (the files listed below), driven by the official
//! `openwhisk` npm client (pinned in `tests/compat/package.json`), run by `node --test` against a
//! fresh server. `quotas.js` also runs `wisp admin` on the server's data directory.
//!
//! The client is installed by `scripts/test.sh`; without it this test fails (never skips).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{wisp_binary, Server};

/// Far above the suite's normal runtime (a few seconds); only a hang gets here.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn openwhisk_npm_client_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compat = root.join("tests/compat");
    let client = compat.join("node_modules/openwhisk/package.json");
    let installed: serde_json::Value = match std::fs::read_to_string(&client) {
        Ok(text) => serde_json::from_str(&text).expect("openwhisk's package.json is JSON"),
        Err(_) => panic!(
            "the openwhisk npm client is not installed ({} is missing): run scripts/test.sh, \
             which installs tests/compat's packages (npm ci) before running cargo test",
            client.display()
        ),
    };
    let pinned: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(compat.join("package.json")).unwrap())
            .unwrap();
    assert_eq!(
        installed["version"], pinned["dependencies"]["openwhisk"],
        "tests/compat/node_modules holds another openwhisk version than package.json pins: run scripts/test.sh"
    );

    // A one-second identity cache lets quotas.js see its `wisp admin limits` changes soon; a
    // fire default of its own tells it apart from the invocation default.
    let server = Server::start_with(&["--identity-cache-ttl", "1", "--fires-per-minute", "600000"]);
    let mut node = Command::new("node");
    node.current_dir(root)
        .args([
            "--test",
            "--test-reporter=spec",
            "tests/compat/suite.js",
            "tests/compat/model.js",
            "tests/compat/feeds.js",
            "tests/compat/compositions.js",
            "tests/compat/composer.js",
            "tests/compat/wasm.js",
            "tests/compat/quotas.js",
        ])
        .env("WISP_APIHOST", &server.api_host)
        .env("WISP_AUTH", &server.auth)
        .env("WISP_BIN", wisp_binary())
        .env("WISP_DATA_DIR", server.data_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The client reads these; an inherited value would redirect or rename its requests.
    for var in [
        "__OW_API_HOST",
        "__OW_API_KEY",
        "__OW_NAMESPACE",
        "__OW_TRANSACTION_ID",
        "__OW_USER_AGENT",
        "__OW_IGNORE_CERTS",
        "__OW_APIGW_TOKEN",
        "__OW_APIGW_SPACE_GUID",
        "PROXY",
        "proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NODE_OPTIONS",
    ] {
        node.env_remove(var);
    }
    let mut child = node.spawn().unwrap_or_else(|e| {
        panic!("cannot start `node` (Node.js 20 is needed for the compat suite): {e}")
    });

    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break Some(status);
        }
        if started.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let output = format!("--- node stdout ---\n{stdout}\n--- node stderr ---\n{stderr}");

    match status {
        None => panic!("the compat suite did not finish within {SUITE_TIMEOUT:?}\n{output}"),
        Some(status) if !status.success() => panic!("the compat suite failed ({status})\n{output}"),
        Some(_) => {
            // Visible with `cargo test -- --nocapture`; guards against a suite that ran nothing.
            println!("{output}");
            let passed = summary(&stdout, "pass");
            assert!(
                passed.is_some_and(|n| n > 0),
                "the compat suite ran no tests\n{output}"
            );
            for counter in ["fail", "cancelled"] {
                assert_eq!(summary(&stdout, counter), Some(0), "{counter}\n{output}");
            }
        }
    }
}

/// A counter from node --test's closing summary (`ℹ pass 37` with spec, `# pass 37` with tap).
fn summary(stdout: &str, counter: &str) -> Option<u64> {
    stdout.lines().rev().find_map(|line| {
        let line = line.trim_start_matches(['ℹ', '#', ' ']);
        line.strip_prefix(counter)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}
