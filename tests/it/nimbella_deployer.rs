//! Nimbella's own deployer library, `@nimbella/nimbella-deployer` (pinned in
//! `tests/fixtures/nimbella-deployer`, installed by `scripts/test.sh`), deploys a Nimbella-layout
//! project to a real server unchanged: `deploy.js` logs in and deploys as `nim project deploy`
//! does, with its credential store in a scratch `NIMBELLA_DIR`. What it made is then checked
//! through Wisp's REST API, by invoking it, and (web content) by reading the web bucket back
//! through the S3 endpoint.
//!
//! Without the fixture installed this test fails (never skips).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{annotation, Scratch, Server};

/// Far above a deploy's normal time (a few seconds); only a hang gets here.
const NODE_TIMEOUT: Duration = Duration::from_secs(180);

fn fixture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nimbella-deployer");
    let installed = dir.join("node_modules/@nimbella/nimbella-deployer/package.json");
    let installed: Value = match std::fs::read_to_string(&installed) {
        Ok(text) => serde_json::from_str(&text).unwrap(),
        Err(_) => panic!(
            "Nimbella's deployer is not installed ({} is missing): run scripts/test.sh, which \
             installs tests/fixtures/nimbella-deployer (npm ci) before running cargo test",
            installed.display()
        ),
    };
    let pinned: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        installed["version"], pinned["dependencies"]["@nimbella/nimbella-deployer"],
        "tests/fixtures/nimbella-deployer/node_modules is not what package.json pins: run scripts/test.sh"
    );
    dir
}

/// Runs one of the fixture's scripts with `env`; returns the JSON it wrote to `RESULT`, which
/// must not be an error.
fn node(script: &str, scratch: &Path, env: &[(&str, &str)]) -> Value {
    let value = node_outcome(script, scratch, env);
    assert!(value.get("error").is_none(), "{script}: {value:#}");
    value
}

/// Runs one of the fixture's scripts with `env`; returns the JSON it wrote to `RESULT`.
fn node_outcome(script: &str, scratch: &Path, env: &[(&str, &str)]) -> Value {
    let result = scratch.join(format!("{script}.json"));
    let _ = std::fs::remove_file(&result);
    let mut command = Command::new("node");
    command
        .arg(fixture().join(script))
        // Outside any git repository, so the deployer's annotation names no repository.
        .current_dir(scratch)
        .env("HOME", scratch)
        .env("NIMBELLA_DIR", scratch.join("nimbella"))
        .env("RESULT", &result)
        .env("npm_config_update_notifier", "false")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "__OW_API_HOST",
        "__OW_API_KEY",
        "__OW_NAMESPACE",
        "__NIM_STORAGE_KEY",
        "WSK_CONFIG_FILE",
        "NODE_OPTIONS",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
    ] {
        command.env_remove(var);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `node`: {e}"));
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
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > NODE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "{script} did not finish well ({status:?})\n{output}"
    );
    let text = std::fs::read_to_string(&result)
        .unwrap_or_else(|e| panic!("{script} wrote no result ({e})\n{output}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{script}: {e}: {text}\n{output}"))
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

const HELLO_JS: &str =
    "function main(args) {\n  return { greeting: `Hello ${args.name || 'World'}` };\n}\n";

/// A project as Nimbella documented them: a single-file Node.js action in no package; in a
/// package with parameters and environment, a Python file, a directory with a package.json
/// (built with npm, zipped), a Python directory (zipped, no build) and a sequence; web flags
/// and a secret; web content with its own error page.
const PROJECT: &[(&str, &str)] = &[
    ("packages/default/hello.js", HELLO_JS),
    (
        "packages/demo/greet.py",
        "import os\n\ndef main(args):\n    name = args.get('name', 'stranger')\n    \
         return {'greeting': args['greeting'] + ', ' + name + os.environ.get('SUFFIX', '?'),\n            \
         'n': args.get('n'), 'sees_suffix_param': 'SUFFIX' in args}\n",
    ),
    (
        "packages/demo/double/package.json",
        "{\"name\": \"double\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n",
    ),
    (
        "packages/demo/double/index.js",
        "const { twice } = require('./twice');\nexports.main = (args) => ({ n: twice(args.n || 0) });\n",
    ),
    (
        "packages/demo/double/twice.js",
        "exports.twice = (n) => 2 * n;\n",
    ),
    (
        "packages/demo/stats/__main__.py",
        "from helper import mean\n\ndef main(args):\n    return {'mean': mean(args.get('xs', []))}\n",
    ),
    (
        "packages/demo/stats/helper.py",
        "def mean(xs):\n    return sum(xs) / len(xs) if xs else None\n",
    ),
    (
        "project.yml",
        "targetNamespace: guest
bucket:
  notFoundPage: missing.html
packages:
  - name: demo
    parameters:
      greeting: Hello
    environment:
      SUFFIX: '!'
    actions:
      - name: greet
        runtime: 'python:default'
        web: false
        limits:
          timeout: 5000
          memory: 256
      - name: double
        webSecure: s3cr3t
        annotations:
          description: doubles n
      - name: pipeline
        sequence:
          - demo/double
          - demo/greet
",
    ),
    (
        "web/index.html",
        "<!doctype html><title>deployed by nim</title><h1>hi</h1>\n",
    ),
    ("web/css/site.css", "h1 { color: teal }\n"),
    ("web/missing.html", "<h1>no such page</h1>\n"),
];

async fn action(server: &Server, name: &str) -> Value {
    let (status, body) = server
        .get(&format!("namespaces/_/actions/{name}?code=false"))
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    body
}

/// The names of the deploy's action successes that were (not) skipped.
fn actions_reported(outcome: &Value, skipped: bool) -> Vec<String> {
    let mut names: Vec<String> = outcome["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "action" && s["skipped"] == skipped)
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// `__NIM_STORAGE_KEY` as the namespace's functions get it: what a Nimbella user had in their
/// credential store as the storage key.
async fn storage_key(server: &Server) -> String {
    server
        .action(
            "storage-key",
            "nodejs:20",
            "function main() { return { key: process.env.__NIM_STORAGE_KEY } }",
            json!({}),
        )
        .await;
    let key = server.result("storage-key", json!({})).await;
    key["key"]
        .as_str()
        .expect("activations get a storage key")
        .to_string()
}

#[tokio::test]
async fn nimbellas_deployer_deploys_a_project_unchanged_and_incrementally() {
    let server = Server::start();
    let scratch = Scratch::new("nim-deployer");
    std::fs::create_dir_all(scratch.path().join("nimbella")).unwrap();
    let root = scratch.path().join("demo-project");
    write(&root, PROJECT);
    let storage = storage_key(&server).await;
    let project = root.to_str().unwrap();
    let deploy = |incremental: &str| {
        // A zip stamps files to two seconds: a rebuild within the same two seconds as the
        // last would make a byte-identical archive, and whether `double` is re-sent would
        // depend on the machine's speed.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        node(
            "deploy.js",
            scratch.path(),
            &[
                ("WISP_APIHOST", server.api_host.as_str()),
                ("WISP_AUTH", server.auth.as_str()),
                ("PROJECT", project),
                ("STORAGE_KEY", storage.as_str()),
                ("INCREMENTAL", incremental),
            ],
        )
    };

    let outcome = deploy("0");
    assert_eq!(outcome["failures"], json!([]), "{outcome:#}");
    assert_eq!(outcome["namespace"], "guest", "{outcome:#}");
    assert_eq!(
        actions_reported(&outcome, false),
        [
            "demo/double",
            "demo/greet",
            "demo/pipeline",
            "demo/stats",
            "hello"
        ],
        "{outcome:#}"
    );
    // The credential store is the scratch one; the user's home was never the deployer's.
    let store: Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.path().join("nimbella/credentials.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(store["currentNamespace"], "guest");
    assert_eq!(store["currentHost"], server.api_host.as_str());

    // `nodejs:default` and `python:default`, as the deployer sends them, resolve.
    let hello = action(&server, "hello").await;
    assert_eq!(hello["exec"]["kind"], "nodejs:20");
    assert_eq!(annotation(&hello, "web-export"), Some(&json!(true)));
    assert_eq!(annotation(&hello, "raw-http"), Some(&json!(false)));
    assert_eq!(annotation(&hello, "final"), Some(&json!(true)));
    assert_eq!(
        annotation(&hello, "require-whisk-auth"),
        Some(&json!(false))
    );
    let deployer = annotation(&hello, "deployer").expect("the deployer's annotation");
    assert_eq!(deployer["projectPath"], project, "{deployer}");
    assert_eq!(deployer["digest"].as_str().unwrap().len(), 8, "{deployer}");

    let greet = action(&server, "demo/greet").await;
    assert_eq!(greet["exec"]["kind"], "python:3");
    assert_eq!(greet["limits"]["timeout"], 5000);
    assert_eq!(greet["limits"]["memory"], 256);
    assert_eq!(annotation(&greet, "web-export"), Some(&json!(false)));

    let double = action(&server, "demo/double").await;
    assert_eq!(double["exec"]["kind"], "nodejs:20");
    assert_eq!(double["exec"]["binary"], true, "a directory is a zip");
    assert_eq!(
        annotation(&double, "require-whisk-auth"),
        Some(&json!("s3cr3t"))
    );
    assert_eq!(
        annotation(&double, "description"),
        Some(&json!("doubles n"))
    );
    assert_eq!(annotation(&double, "deployer").unwrap()["zipped"], true);

    let stats = action(&server, "demo/stats").await;
    assert_eq!(stats["exec"]["kind"], "python:3");
    assert_eq!(stats["exec"]["binary"], true);

    let pipeline = action(&server, "demo/pipeline").await;
    assert_eq!(pipeline["exec"]["kind"], "sequence");
    assert_eq!(
        pipeline["exec"]["components"],
        json!(["/guest/demo/double", "/guest/demo/greet"])
    );

    let (status, package) = server.get("namespaces/_/packages/demo").await;
    assert_eq!(status, 200, "{package}");
    let mut parameters = package["parameters"].as_array().unwrap().clone();
    parameters.sort_by_key(|p| p["key"].as_str().unwrap().to_string());
    assert_eq!(
        parameters,
        [
            json!({"key": "SUFFIX", "value": "!", "init": true}),
            json!({"key": "greeting", "value": "Hello"}),
        ]
    );
    assert!(annotation(&package, "deployer").is_some(), "{package}");

    // Everything runs: package parameters reach the action, environment arrives as
    // environment only, the sequence runs its two actions.
    assert_eq!(
        server.result("hello", json!({"name": "Ada"})).await,
        json!({"greeting": "Hello Ada"})
    );
    assert_eq!(
        server.result("demo/greet", json!({"name": "Ada"})).await,
        json!({"greeting": "Hello, Ada!", "n": null, "sees_suffix_param": false})
    );
    assert_eq!(
        server.result("demo/pipeline", json!({"n": 21})).await,
        json!({"greeting": "Hello, stranger!", "n": 42, "sees_suffix_param": false})
    );
    assert_eq!(
        server.result("demo/stats", json!({"xs": [1, 2, 6]})).await,
        json!({"mean": 3.0})
    );
    // Web flags: `hello` answers anyone, `double` only with its secret, `greet` nobody.
    let web = |path: &str| {
        server
            .http
            .get(format!("{}/api/v1/web/guest/{path}", server.api_host))
    };
    let reply = web("default/hello.json?name=Web").send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.json::<Value>().await.unwrap()["greeting"],
        "Hello Web"
    );
    let reply = web("demo/double.json?n=4").send().await.unwrap();
    assert_eq!(reply.status(), 401, "no secret");
    let reply = web("demo/double.json?n=4")
        .header("x-require-whisk-auth", "s3cr3t")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.unwrap()["n"], 8);
    let reply = web("demo/greet.json").send().await.unwrap();
    assert_eq!(reply.status(), 404, "not a web action");

    // Web content went to the namespace's web bucket through the S3 endpoint; the deployer
    // names each file by the storage key's `weburl`.
    let weburl = serde_json::from_str::<Value>(&storage).unwrap()["weburl"].clone();
    let mut uploaded: Vec<&str> = outcome["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "web" && s["skipped"] == false)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    uploaded.sort();
    assert_eq!(
        uploaded,
        [
            format!("{}/css/site.css", weburl.as_str().unwrap()),
            format!("{}/index.html", weburl.as_str().unwrap()),
            format!("{}/missing.html", weburl.as_str().unwrap())
        ],
        "{outcome:#}"
    );
    let bucket = node(
        "read-bucket.js",
        scratch.path(),
        &[("STORAGE_KEY", &storage)],
    );
    assert_eq!(bucket["bucket"], "guest-127-nimbella-io");
    let objects = &bucket["objects"];
    assert_eq!(
        objects["index.html"]["contentType"], "text/html",
        "{bucket:#}"
    );
    assert!(objects["index.html"]["text"]
        .as_str()
        .unwrap()
        .contains("deployed by nim"));
    assert_eq!(
        objects["css/site.css"]["contentType"], "text/css",
        "{bucket:#}"
    );
    assert_eq!(objects["css/site.css"]["text"], "h1 { color: teal }\n");

    // ... and they are the namespace's site, with the error page the deployer set through
    // PutBucketWebsite.
    let site = |path: &str| {
        server
            .http
            .get(format!("{}/sites/guest/{path}", server.api_host))
            .send()
    };
    let page = site("").await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html");
    assert!(page.text().await.unwrap().contains("deployed by nim"));
    let css = site("css/site.css").await.unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css");
    let missing = site("no/such/page.html").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no such page"));

    // `--incremental` with nothing changed: no package, file action or unbuilt directory is
    // sent again, no web file uploaded again. The deployer itself re-sends two: the sequence
    // (it never digests sequences), and `double`, because its npm build runs again (it takes
    // a package as built only when `node_modules` exists, and one without dependencies has
    // none) and rewrites package-lock.json, whose new time changes the zip.
    let names = [
        "hello",
        "demo/greet",
        "demo/stats",
        "demo/double",
        "demo/pipeline",
    ];
    let mut before = Vec::new();
    for name in names {
        before.push(action(&server, name).await["version"].clone());
    }
    let package_version = package["version"].clone();
    let outcome = deploy("1");
    assert_eq!(outcome["failures"], json!([]), "{outcome:#}");
    assert_eq!(
        actions_reported(&outcome, true),
        ["demo/greet", "demo/stats", "hello"],
        "{outcome:#}"
    );
    assert_eq!(
        actions_reported(&outcome, false),
        ["demo/double", "demo/pipeline"]
    );
    let web_skipped = outcome["successes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "web" && s["skipped"] == true)
        .count();
    assert_eq!(web_skipped, 3, "{outcome:#}");
    for (name, version) in names.iter().zip(&before) {
        let now = action(&server, name).await["version"].clone();
        let sent = ["demo/double", "demo/pipeline"].contains(name);
        assert_eq!(now != *version, sent, "{name}: {version} -> {now}");
    }
    let (_, package) = server.get("namespaces/_/packages/demo").await;
    assert_eq!(
        package["version"], package_version,
        "the package was not sent"
    );

    // One changed file: only that action is sent.
    write(
        &root,
        &[(
            "packages/default/hello.js",
            "function main(args) { return { greeting: `Hi again ${args.name}` }; }\n",
        )],
    );
    let outcome = deploy("1");
    assert_eq!(outcome["failures"], json!([]), "{outcome:#}");
    assert_eq!(
        actions_reported(&outcome, false),
        ["demo/double", "demo/pipeline", "hello"],
        "{outcome:#}"
    );
    assert_ne!(action(&server, "hello").await["version"], before[0]);
    assert_eq!(action(&server, "demo/greet").await["version"], before[1]);
    assert_eq!(action(&server, "demo/stats").await["version"], before[2]);
    assert_eq!(
        server.result("hello", json!({"name": "Ada"})).await,
        json!({"greeting": "Hi again Ada"})
    );
}

/// Without a storage key the deployer refuses web content before sending anything, with its
/// own message: the credential entry is what grants the web store, as on Nimbella.
#[tokio::test]
async fn without_a_storage_key_web_content_is_refused_by_the_deployer() {
    let server = Server::start();
    let scratch = Scratch::new("nim-deployer-nokey");
    std::fs::create_dir_all(scratch.path().join("nimbella")).unwrap();
    let root = scratch.path().join("site");
    write(
        &root,
        &[
            ("packages/default/hello.js", HELLO_JS),
            ("web/index.html", "<h1>hi</h1>"),
        ],
    );
    let outcome = node_outcome(
        "deploy.js",
        scratch.path(),
        &[
            ("WISP_APIHOST", server.api_host.as_str()),
            ("WISP_AUTH", server.auth.as_str()),
            ("PROJECT", root.to_str().unwrap()),
        ],
    );
    let message = outcome["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("requires file store access but is not enabled"),
        "{outcome:#}"
    );
    let (status, _) = server.get("namespaces/_/actions/hello").await;
    assert_eq!(status, 404, "nothing was deployed");
}

/// `wisp namespace login-token` on one machine, `nim auth login <token>` on another: the
/// deployer's own login stores a credential with the key, object storage and the key-value
/// store on, and the token works once.
#[tokio::test]
async fn a_login_token_gives_nims_login_a_full_credential_once() {
    let server = Server::start();
    let scratch = Scratch::new("nim-login");
    std::fs::create_dir_all(scratch.path().join("nimbella")).unwrap();
    let out = server.cli(&["namespace", "login-token"]);
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    let token = crate::support::stdout(&out).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    assert!(
        !token.contains(server.auth.split(':').nth(1).unwrap()),
        "no key in the token"
    );

    let logged_in = node("login.js", scratch.path(), &[("TOKEN", &token)]);
    let store = &logged_in["credentials"];
    let entry = &store["credentials"][&server.api_host]["guest"];
    assert_eq!(entry["api_key"], server.auth, "{store:#}");
    assert_eq!(entry["redis"], true, "{store:#}");
    let storage = &entry["storageKey"];
    assert_eq!(storage["provider"], "@nimbella/storage-s3", "{store:#}");
    assert!(
        storage["credentials"]["accessKeyId"].is_string(),
        "{store:#}"
    );
    assert_eq!(store["currentHost"], server.api_host);

    let again = node_outcome("login.js", scratch.path(), &[("TOKEN", &token)]);
    assert_eq!(again["error"], "The provided token is invalid", "{again:#}");
}
