//! `wisp project`: a directory of functions and a project.yml deployed as one unit, through the
//! real CLI against a real server. Incremental deploys are checked through the entities'
//! versions on the server: an entity not sent keeps its version.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{ok, stderr, stdout, Server};

/// Writes `files` (path relative to the project, contents) under the server's home in `name`.
fn project(server: &Server, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = server.home().join(name);
    write(&root, files);
    root
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn deploy(server: &Server, root: &Path, extra: &[&str]) -> String {
    let mut args = vec!["project", "deploy", root.to_str().unwrap()];
    args.extend(extra);
    ok(server, &args)
}

async fn version(server: &Server, action: &str) -> String {
    let (status, body) = server
        .get(&format!("namespaces/_/actions/{action}?code=false"))
        .await;
    assert_eq!(status, 200, "{action}: {body}");
    body["version"].as_str().unwrap().to_string()
}

async fn exists(server: &Server, collection: &str, name: &str) -> bool {
    let (status, _) = server
        .get(&format!("namespaces/_/{collection}/{name}"))
        .await;
    status == 200
}

const ECHO_JS: &str = "function main(args) { return { from: 'a', args }; }";

#[tokio::test]
async fn a_created_project_deploys_as_it_is_and_its_action_answers() {
    let server = Server::start();
    let root = server.home().join("myapp");
    let out = ok(&server, &["project", "create", root.to_str().unwrap()]);
    assert!(out.contains("created project"), "{out}");
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("create    action  hello"), "{out}");
    assert!(out.contains("1 created, 0 updated, 0 unchanged"), "{out}");
    let result = ok(
        &server,
        &["action", "invoke", "hello", "-p", "name", "Ada", "-r"],
    );
    assert!(result.contains("Hello Ada!"), "{result}");
    // A project action is a web action unless it says otherwise.
    let (status, body) = server.get("namespaces/_/actions/hello?code=false").await;
    assert_eq!(status, 200);
    assert_eq!(
        crate::support::annotation(&body, "web-export"),
        Some(&Value::Bool(true))
    );
}

#[tokio::test]
async fn redeploys_send_only_what_changed_also_from_another_clone() {
    let server = Server::start();
    let files = [
        ("packages/demo/a.js", ECHO_JS),
        (
            "packages/demo/b.js",
            "function main() { return { from: 'b' }; }",
        ),
        (
            "packages/default/c.py",
            "def main(args):\n    return {'from': 'c'}\n",
        ),
        (
            "project.yml",
            "packages:\n  - name: demo\n    parameters: {greeting: hi}\n    actions:\n\
             \x20     - name: both\n        sequence: [a, b]\n",
        ),
    ];
    let root = project(&server, "app", &files);
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("5 created"), "{out}");
    let names = ["demo/a", "demo/b", "demo/both", "c"];
    let mut before = Vec::new();
    for name in names {
        before.push(version(&server, name).await);
    }
    let seq = ok(&server, &["action", "invoke", "demo/both", "-r"]);
    assert!(seq.contains("\"b\""), "the sequence runs a then b: {seq}");

    let out = deploy(&server, &root, &[]);
    assert!(
        out.contains("0 created, 0 updated, 5 unchanged, 0 deleted (0 requests)"),
        "{out}"
    );
    let json = crate::support::json_of(&deploy(&server, &root, &["--json"]));
    assert_eq!(json["unchanged"].as_array().unwrap().len(), 5, "{json}");
    assert_eq!(json["updated"], serde_json::json!([]), "{json}");
    // Another clone of the same project (same directory name) knows nothing locally: the
    // digests are on the server.
    let clone = server.home().join("clone").join("app");
    write(&clone, &files);
    let out = deploy(&server, &clone, &[]);
    assert!(out.contains("5 unchanged"), "{out}");
    for (name, v) in names.iter().zip(&before) {
        assert_eq!(
            &version(&server, name).await,
            v,
            "{name} was not written again"
        );
    }

    write(
        &root,
        &[(
            "packages/demo/b.js",
            "function main() { return { from: 'b2' }; }",
        )],
    );
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("update    action  demo/b"), "{out}");
    assert!(out.contains("0 created, 1 updated, 4 unchanged"), "{out}");
    for (name, v) in names.iter().zip(&before) {
        let now = version(&server, name).await;
        assert_eq!(now != *v, *name == "demo/b", "{name}: {v} -> {now}");
    }
    let result = ok(&server, &["action", "invoke", "demo/both", "-r"]);
    assert!(result.contains("b2"), "{result}");
}

#[tokio::test]
async fn prune_deletes_only_what_this_project_deployed_and_no_longer_has() {
    let server = Server::start();
    let root = project(
        &server,
        "shop",
        &[
            ("packages/demo/a.js", ECHO_JS),
            ("packages/demo/b.js", ECHO_JS),
            ("packages/old/x.js", ECHO_JS),
        ],
    );
    deploy(&server, &root, &[]);
    let mine = crate::support::source(&server, "mine.js", ECHO_JS);
    ok(&server, &["action", "create", "mine", &mine]);

    std::fs::remove_file(root.join("packages/demo/b.js")).unwrap();
    std::fs::remove_dir_all(root.join("packages/old")).unwrap();
    let out = deploy(&server, &root, &[]);
    assert!(
        out.contains("keep      action  demo/b  (no longer in the project; --prune deletes it)"),
        "{out}"
    );
    assert!(
        exists(&server, "actions", "demo/b").await,
        "kept without --prune"
    );

    let out = deploy(&server, &root, &["--prune"]);
    assert!(out.contains("3 deleted"), "{out}");
    assert!(!exists(&server, "actions", "demo/b").await);
    assert!(!exists(&server, "actions", "old/x").await);
    assert!(!exists(&server, "packages", "old").await);
    assert!(exists(&server, "actions", "demo/a").await);
    assert!(
        exists(&server, "actions", "mine").await,
        "not the project's: never pruned"
    );
}

#[tokio::test]
async fn a_failed_build_stops_the_deploy_before_anything_is_sent() {
    let server = Server::start();
    let root = project(&server, "app", &[("packages/p/good.js", ECHO_JS)]);
    deploy(&server, &root, &[]);
    let before = version(&server, "p/good").await;

    write(
        &root,
        &[
            (
                "packages/p/good.js",
                "function main() { return { changed: true }; }",
            ),
            (
                "packages/p/bad/build.sh",
                "echo compiling bad; echo 'bad.c:1: error' >&2; exit 2",
            ),
            ("packages/p/bad/index.js", ECHO_JS),
        ],
    );
    let out = server.cli(&["project", "deploy", root.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("build of packages/p/bad failed: build.sh exited with status 2"),
        "{err}"
    );
    assert!(
        err.contains("compiling bad") && err.contains("bad.c:1: error"),
        "{err}"
    );
    assert_eq!(version(&server, "p/good").await, before, "nothing was sent");
    assert!(!exists(&server, "actions", "p/bad").await);
}

#[tokio::test]
async fn project_yml_with_an_unknown_key_is_refused_naming_it() {
    let server = Server::start();
    let root = project(
        &server,
        "app",
        &[
            ("packages/p/a.js", ECHO_JS),
            (
                "project.yml",
                "packages:\n  - name: p\n    actoins:\n      - name: a\n",
            ),
        ],
    );
    for command in ["deploy", "get-metadata"] {
        let out = server.cli(&["project", command, root.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("project.yml: line 3: packages[0]: unknown key `actoins`"),
            "{err}"
        );
    }
    assert!(!exists(&server, "packages", "p").await);
}

#[tokio::test]
async fn variables_come_from_the_environment_then_the_env_file() {
    let server = Server::start();
    let root = project(
        &server,
        "app",
        &[
            ("packages/default/greet.js", "function main(a) { return { greeting: a.greeting, token: process.env.TOKEN }; }"),
            (
                "project.yml",
                "packages:\n  - name: default\n    actions:\n      - name: greet\n\
                 \x20       parameters: {greeting: ${GREETING}}\n        environment: {TOKEN: ${TOKEN}}\n",
            ),
            (".env", "GREETING=from-the-file\nTOKEN=t0k3n\n"),
        ],
    );
    let path = root.to_str().unwrap();
    let meta = ok(&server, &["project", "get-metadata", path]);
    assert!(meta.contains("from-the-file"), "{meta}");
    deploy(&server, &root, &[]);
    let result = ok(&server, &["action", "invoke", "greet", "-r"]);
    assert!(
        result.contains("from-the-file") && result.contains("t0k3n"),
        "{result}"
    );

    let out = server.cli_with_env(
        &["project", "deploy", path],
        &[("GREETING", "from-the-env")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 updated"), "{}", stdout(&out));
    let result = ok(&server, &["action", "invoke", "greet", "-r"]);
    assert!(result.contains("from-the-env"), "{result}");

    std::fs::remove_file(root.join(".env")).unwrap();
    let out = server.cli(&["project", "deploy", path]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("GREETING, TOKEN"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_declared_state_counter_deployed_from_project_yml_counts() {
    let server = Server::start();
    let root = project(
        &server,
        "counter",
        &[
            (
                "packages/default/count.js",
                "function main(args) {\n  const next = (args.__state.keys.counter || 0) + 1;\n\
                 \x20 return { count: next, __state: { keys: { counter: next } } };\n}\n",
            ),
            (
                "project.yml",
                "packages:\n  - name: default\n    actions:\n      - name: count\n\
                 \x20       state:\n          write: [counter]\n",
            ),
        ],
    );
    deploy(&server, &root, &[]);
    ok(&server, &["action", "invoke", "count", "-r"]);
    let second = ok(&server, &["action", "invoke", "count", "-r"]);
    assert!(second.contains("\"count\": 2"), "{second}");
    assert_eq!(ok(&server, &["kv", "get", "counter"]).trim(), "2");

    // Dropping the key from project.yml drops the annotation (an update merges annotations).
    write(&root, &[("project.yml", "")]);
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("1 updated"), "{out}");
    let (_, body) = server.get("namespaces/_/actions/count?code=false").await;
    assert_eq!(crate::support::annotation(&body, "state"), None, "{body}");
}

#[tokio::test]
async fn a_directory_is_one_zipped_action() {
    let server = Server::start();
    let root = project(
        &server,
        "app",
        &[
            (
                "packages/tools/multi/index.js",
                "const { twice } = require('./lib/twice');
exports.main = (a) => ({ n: twice(a.n) });
",
            ),
            (
                "packages/tools/multi/lib/twice.js",
                "exports.twice = (n) => 2 * n;
",
            ),
            (
                "packages/tools/multi/.ignore",
                "*.md
",
            ),
            ("packages/tools/multi/NOTES.md", "not deployed"),
        ],
    );
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("create    action  tools/multi"), "{out}");
    let result = ok(
        &server,
        &["action", "invoke", "tools/multi", "-p", "n", "21", "-r"],
    );
    assert!(result.contains("42"), "{result}");
    let (_, body) = server
        .get("namespaces/_/actions/tools/multi?code=false")
        .await;
    assert_eq!(body["exec"]["binary"], Value::Bool(true), "{body}");
}

#[tokio::test]
async fn a_refused_write_stops_the_deploy_and_names_the_entity() {
    let server = Server::start();
    let root = project(
        &server,
        "app",
        &[
            ("packages/p/a.js", ECHO_JS),
            ("packages/p/z.js", ECHO_JS),
            (
                "project.yml",
                "packages:\n  - name: p\n    actions:\n      - name: z\n        limits: {timeout: 1}\n",
            ),
        ],
    );
    let out = server.cli(&["project", "deploy", root.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("deploy stopped at create action p/z (2 of 3 changes applied"),
        "{err}"
    );
    assert!(err.contains("timeout"), "the server's reason: {err}");
    assert!(
        exists(&server, "actions", "p/a").await,
        "what came before it is deployed"
    );
    assert!(!exists(&server, "actions", "p/z").await);
}

#[tokio::test]
async fn a_wasm_file_is_a_wasm_action() {
    let server = Server::start();
    let hello =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wasm/c/hello.wasm"))
            .unwrap();
    let root = server.home().join("fast");
    std::fs::create_dir_all(root.join("packages/default")).unwrap();
    std::fs::write(root.join("packages/default/hi.wasm"), &hello).unwrap();
    let out = deploy(&server, &root, &[]);
    assert!(out.contains("create    action  hi"), "{out}");
    let (status, action) = server.get("namespaces/_/actions/hi?code=false").await;
    assert_eq!(status, 200);
    assert_eq!(action["exec"]["kind"], "wasm");
    assert_eq!(action["exec"]["binary"], true);
    let result = server
        .result("hi", serde_json::json!({"name": "Ada"}))
        .await;
    assert_eq!(result["greeting"], "Hello, Ada!", "{result}");
    let again = deploy(&server, &root, &[]);
    assert!(
        again.contains("0 created, 0 updated, 1 unchanged"),
        "{again}"
    );
}

/// The output a child process has written so far, read by a thread of its own.
fn collect(pipe: impl std::io::Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead;
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// A child process killed when the test ends, whichever way it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 100 ms for at most a minute (far above the watcher's half second).
async fn eventually<F, Fut>(what: &str, output: &std::sync::Mutex<String>, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen; the watcher printed:\n{}",
            output.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn watch_redeploys_a_saved_file_ignores_editor_files_and_stops_on_ctrl_c() {
    use std::process::{Command, Stdio};

    let server = Server::start();
    let root = project(
        &server,
        "live",
        &[
            ("packages/demo/a.js", ECHO_JS),
            (
                "packages/demo/b.js",
                "function main() { return { from: 'b' }; }",
            ),
            ("web/index.html", "<h1>first</h1>"),
        ],
    );
    let mut watcher = KillOnDrop(
        Command::new(crate::support::wisp_binary())
            .args(["project", "watch", root.to_str().unwrap()])
            .env("HOME", server.home())
            .env("WSK_CONFIG_FILE", server.home().join("cli.wskprops"))
            .env("WISP_APIHOST", &server.api_host)
            .env("WISP_AUTH", &server.auth)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI starts"),
    );
    let output = collect(watcher.0.stdout.take().unwrap());
    let errors = collect(watcher.0.stderr.take().unwrap());

    // It starts by deploying the project as it is.
    eventually("the first deploy", &output, || {
        exists(&server, "actions", "demo/b")
    })
    .await;
    eventually("the first round's summary", &output, || {
        let done = output.lock().unwrap().contains("ok: 3 created");
        async move { done }
    })
    .await;
    let a = version(&server, "demo/a").await;
    let b = version(&server, "demo/b").await;

    // Editor droppings, dependencies and VCS files are not the project's: no round for them.
    write(
        &root,
        &[
            ("packages/demo/.a.js.swp", "vim's swap"),
            ("packages/demo/a.js~", "a backup"),
            ("node_modules/left-pad/index.js", "module.exports = 1"),
            (".git/index", "git"),
        ],
    );
    write(
        &root,
        &[(
            "packages/demo/a.js",
            "function main() { return { from: 'a2' }; }",
        )],
    );
    eventually("the redeploy of demo/a", &output, || {
        let server = &server;
        let a = a.clone();
        async move { version(server, "demo/a").await != a }
    })
    .await;
    let result = ok(&server, &["action", "invoke", "demo/a", "-r"]);
    assert!(result.contains("a2"), "{result}");
    assert_eq!(version(&server, "demo/b").await, b, "b was not sent again");
    eventually("the round's summary", &output, || {
        let done = output.lock().unwrap().contains("updated action demo/a");
        async move { done }
    })
    .await;

    // The site is part of the project: a saved page is uploaded and served.
    write(&root, &[("web/index.html", "<h1>second</h1>")]);
    let site = format!("{}/sites/guest/", server.api_host);
    eventually("the new page on the site", &output, || {
        let request = server.http.get(&site).send();
        async move {
            let page = request.await.unwrap().text().await.unwrap();
            page.contains("second")
        }
    })
    .await;
    eventually("the web round's summary", &output, || {
        let done = output
            .lock()
            .unwrap()
            .contains("web content: 1 uploaded, 0 deleted; site: ");
        async move { done }
    })
    .await;

    // Ctrl-C, as a terminal sends it to the process.
    let pid = watcher.0.id().to_string();
    let signal = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(signal.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = watcher.0.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "the watcher did not stop on SIGINT:\n{}",
                output.lock().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Let the reader threads see the end of the pipes.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let printed = output.lock().unwrap().clone();
    assert!(
        status.success(),
        "{status}\n{printed}\n{}",
        errors.lock().unwrap()
    );
    assert!(printed.contains("stopped watching"), "{printed}");
    let rounds: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains(" changed: "))
        .collect();
    assert_eq!(
        rounds.len(),
        2,
        "one round for a.js alone, one for the page:\n{printed}"
    );
    assert!(
        rounds[0].ends_with("changed: packages/demo/a.js"),
        "{printed}"
    );
    assert!(rounds[1].ends_with("changed: web/index.html"), "{printed}");
}
