//! Whole commands, parsed the way the `wisp` binary parses them and run against a fake server.

use base64::Engine;
use clap::{CommandFactory, Parser};
use serde_json::{json, Value};

use super::*;
use crate::output::capture;
use crate::test_support::{Answer, FakeServer, Request, TempDir};

/// The shape of the binary's command line, as its `main.rs` builds it.
#[derive(clap::Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Stand-in for the server's own subcommand
    Serve,
    #[command(flatten)]
    Client(ClientCommand),
}

const AUTH: &str = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret";
const ID: &str = "44794bd6aab74415b4e42a308d880e5b";

fn parse(args: &[&str]) -> ClientCommand {
    let argv = std::iter::once("wisp").chain(args.iter().copied());
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Client(cmd) => cmd,
        Command::Serve => panic!("not a client command"),
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs a client command with `dir/wskprops` as its properties file, so tests never touch
/// `~/.wskprops`.
async fn run_in(dir: &TempDir, args: &[&str]) -> Outcome {
    let (mut printer, out, err) = capture::printer();
    let props_path = dir.path().join("wskprops");
    let result = execute(parse(args), Some(props_path), &mut printer).await;
    let code = finish(result, &mut printer);
    Outcome {
        code,
        stdout: out.text(),
        stderr: err.text(),
    }
}

/// Runs a client command against `server` with flags for host and key.
async fn run_against(server: &FakeServer, args: &[&str]) -> Outcome {
    let mut argv = args.to_vec();
    argv.extend(["--apihost", &server.url, "--auth", AUTH]);
    run_in(&TempDir::new(), &argv).await
}

fn only_request(server: &FakeServer) -> Request {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

#[test]
fn command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_options_are_accepted_anywhere_after_the_family() {
    for args in [
        &[
            "action",
            "invoke",
            "x",
            "--apihost",
            "http://h:1",
            "-u",
            "a:b",
            "--json",
        ][..],
        &[
            "action",
            "--apihost",
            "http://h:1",
            "invoke",
            "x",
            "--auth",
            "a:b",
            "--json",
        ][..],
    ] {
        let ClientCommand::Action(action) = parse(args) else {
            panic!()
        };
        assert_eq!(action.opts.apihost.as_deref(), Some("http://h:1"));
        assert_eq!(action.opts.auth.as_deref(), Some("a:b"));
        assert!(action.opts.json);
    }
    let ClientCommand::Activation(a) = parse(&["activation", "poll", "--exit", "1", "--json"])
    else {
        panic!()
    };
    assert!(a.opts.json);
}

#[test]
fn params_take_two_values_each_even_negative_ones() {
    let ClientCommand::Action(action) =
        parse(&["action", "invoke", "x", "-p", "n", "-5", "-p", "s", "hi"])
    else {
        panic!()
    };
    let action::ActionCommand::Invoke(invoke) = action.command else {
        panic!()
    };
    assert_eq!(invoke.params.param, ["n", "-5", "s", "hi"]);
}

#[tokio::test]
async fn invoke_non_blocking_sends_params_and_basic_auth() {
    let server = FakeServer::start(|_| {
        Answer::json(202, json!({"activationId": ID})).with_header("x-openwhisk-activation-id", ID)
    })
    .await;
    let out = run_against(
        &server,
        &[
            "action", "invoke", "hello", "-p", "name", "World", "-p", "n", "3",
        ],
    )
    .await;
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout, format!("ok: invoked /_/hello with id {ID}\n"));
    let request = only_request(&server);
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.target,
        "/api/v1/namespaces/_/actions/hello?blocking=false&result=false"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"name": "World", "n": 3})
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(AUTH);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn invoke_result_of_a_failing_action_prints_it_and_exits_one() {
    let server = FakeServer::start(|_| {
        Answer::json(502, json!({"error": "no name"})).with_header("x-openwhisk-activation-id", ID)
    })
    .await;
    let out = run_against(&server, &["action", "invoke", "pkg/hello", "-r"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "{\n  \"error\": \"no name\"\n}\n");
    assert_eq!(
        out.stderr,
        format!("error: activation {ID} of /_/pkg/hello failed: no name\n")
    );
    assert_eq!(
        only_request(&server).target,
        "/api/v1/namespaces/_/actions/pkg/hello?blocking=true&result=true"
    );
}

#[tokio::test]
async fn server_errors_print_message_and_code() {
    let server = FakeServer::start(|_| {
        Answer::json(
            409,
            json!({"error": "resource already exists", "code": "tx42"}),
        )
    })
    .await;
    let dir = TempDir::new();
    let code = dir.file("hello.js", "function main(p) { return p }");
    let out = run_against(
        &server,
        &["action", "create", "hello", code.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "error: resource already exists (code tx42)\n");
    let request = only_request(&server);
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("PUT", "/api/v1/namespaces/_/actions/hello")
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"exec": {"kind": "nodejs:default", "code": "function main(p) { return p }"}})
    );
}

#[tokio::test]
async fn update_overwrites_and_prints_ok() {
    let server = FakeServer::start(|_| Answer::json(200, json!({"name": "hello"}))).await;
    let out = run_against(
        &server,
        &[
            "action",
            "update",
            "/guest/hello",
            "-m",
            "128",
            "--web",
            "true",
        ],
    )
    .await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "ok: updated action /guest/hello\n")
    );
    let request = only_request(&server);
    assert_eq!(
        request.target,
        "/api/v1/namespaces/guest/actions/hello?overwrite=true"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&request.body).unwrap(),
        json!({"annotations": [
                   {"key": "web-export", "value": true},
                   {"key": "raw-http", "value": false},
                   {"key": "final", "value": true}
               ],
               "limits": {"memory": 128}})
    );
}

#[tokio::test]
async fn unreachable_server_names_the_host_and_what_to_do() {
    // Bind then drop a listener to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("http://127.0.0.1:{port}");
    let out = run_in(
        &TempDir::new(),
        &["namespace", "list", "--apihost", &host, "--auth", AUTH],
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with(&format!("error: cannot reach the wisp server at {host}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("wisp serve") && out.stderr.contains("wisp property set --apihost")
    );
}

#[tokio::test]
async fn missing_configuration_is_a_usage_error() {
    let out = run_in(
        &TempDir::new(),
        &["action", "list", "--apihost", "http://127.0.0.1:1"],
    )
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: no auth key configured"),
        "{}",
        out.stderr
    );
    let out = run_in(
        &TempDir::new(),
        &[
            "action",
            "list",
            "--apihost",
            "https://example.com",
            "-u",
            AUTH,
        ],
    )
    .await;
    assert_eq!(out.code, 2);
}

#[tokio::test]
async fn settings_come_from_the_properties_file() {
    let server = FakeServer::start(|_| Answer::json(200, json!(["guest"]))).await;
    let dir = TempDir::new();
    let props = format!("APIHOST={}\nAUTH={AUTH}\nOTHER=kept\n", server.url);
    dir.file("wskprops", props);
    let out = run_in(&dir, &["namespace", "list"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "Namespace\nguest\n"));
    let out = run_in(&dir, &["namespace", "list", "--json"]).await;
    assert_eq!(out.stdout, "[\n  \"guest\"\n]\n");
}

#[tokio::test]
async fn property_set_keeps_other_lines_and_get_shows_them() {
    let dir = TempDir::new();
    let props = dir.file("wskprops", "# mine\nOTHER=kept\nAUTH=old:key\n");
    let out = run_in(
        &dir,
        &[
            "property",
            "set",
            "--apihost",
            "127.0.0.1:9",
            "--auth",
            AUTH,
            "--namespace",
            "guest",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "ok: API host set to 127.0.0.1:9\nok: auth key set\nok: namespace set to guest\n"
    );
    assert_eq!(
        std::fs::read_to_string(&props).unwrap(),
        format!("# mine\nOTHER=kept\nAUTH={AUTH}\nAPIHOST=127.0.0.1:9\nNAMESPACE=guest\n")
    );
    if std::env::var_os("WISP_APIHOST").is_none() && std::env::var_os("WISP_AUTH").is_none() {
        let out = run_in(&dir, &["property", "get", "--namespace", "--apihost"]).await;
        assert_eq!(out.stdout, "API host   127.0.0.1:9\nnamespace  guest\n");
        let out = run_in(&dir, &["property", "get", "--auth", "--json"]).await;
        assert_eq!(
            serde_json::from_str::<Value>(&out.stdout).unwrap(),
            json!({"auth": AUTH})
        );
    }
}

#[tokio::test]
async fn property_set_needs_something_to_set() {
    let cmd = Cli::try_parse_from(["wisp", "property", "set"]);
    assert!(cmd.is_err());
}

#[tokio::test]
async fn action_list_of_a_package_uses_the_trailing_slash() {
    let server = FakeServer::start(|_| Answer::json(200, json!([]))).await;
    let out = run_against(&server, &["action", "list", "my utils", "--limit", "5"]).await;
    assert_eq!(out.stdout, "Name  Kind  Version  Updated\n");
    assert_eq!(
        only_request(&server).target,
        "/api/v1/namespaces/_/actions/my%20utils/?limit=5"
    );
}

#[tokio::test]
async fn activation_logs_of_the_last_activation_stripped() {
    let server = FakeServer::start(|req| {
        if req.target.contains("/logs") {
            Answer::json(
                200,
                json!({"logs": [
                    "2024-03-01T10:20:30.123456789Z stdout: hello",
                    "2024-03-01T10:20:30.223456789Z stderr: oops"
                ]}),
            )
        } else {
            Answer::json(200, json!([{"activationId": ID, "name": "hello"}]))
        }
    })
    .await;
    let out = run_against(&server, &["activation", "logs", "--last", "--strip"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "hello\noops\n"));
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/api/v1/namespaces/_/activations?limit=1".to_string(),
            format!("/api/v1/namespaces/_/activations/{ID}/logs")
        ]
    );
}

#[tokio::test]
async fn activation_result_prints_the_result() {
    let server = FakeServer::start(|_| {
        Answer::json(
            200,
            json!({"status": "success", "success": true, "result": {"ok": 1}}),
        )
    })
    .await;
    let out = run_against(&server, &["activation", "result", ID]).await;
    assert_eq!(out.stdout, "{\n  \"ok\": 1\n}\n");
}

#[tokio::test]
async fn poll_prints_each_activation_once_and_stops_at_exit() {
    let server = FakeServer::start(|_| {
        Answer::json(
            200,
            json!([{"activationId": ID, "name": "hello", "start": 1,
                                  "logs": ["2024-03-01T10:20:30.1Z stdout: hi"]}]),
        )
    })
    .await;
    let started = std::time::Instant::now();
    let out = run_against(&server, &["activation", "poll", "hello", "--exit", "1"]).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        format!("Activation: 'hello' ({ID})\n2024-03-01T10:20:30.1Z stdout: hi\n")
    );
    let requests = server.requests();
    assert!(requests.len() >= 2, "polled {} times", requests.len());
    assert!(requests[0]
        .target
        .starts_with("/api/v1/namespaces/_/activations?name=hello&docs=true&since="));
}

#[tokio::test]
async fn web_secure_on_update_reads_the_action_then_sets_the_secret() {
    let server = FakeServer::start(|request| {
        let annotations = json!([{"key": "web-export", "value": true}]);
        match request.method.as_str() {
            "GET" => Answer::json(200, json!({"name": "hello", "annotations": annotations})),
            _ => Answer::json(200, json!({"name": "hello"})),
        }
    })
    .await;
    let out = run_against(
        &server,
        &["action", "update", "hello", "--web-secure", "pw"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        serde_json::from_str::<Value>(&requests[1].body).unwrap(),
        json!({"annotations": [{"key": "require-whisk-auth", "value": "pw"}]})
    );

    let out = run_against(
        &server,
        &[
            "action",
            "create",
            "x",
            "--web-secure",
            "pw",
            "--sequence",
            "a",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "a usage error without --web");
    assert!(out
        .stderr
        .contains("--web-secure is only valid for a web action"));
}

#[tokio::test]
async fn get_url_prints_the_web_address() {
    let server = FakeServer::start(|_| {
        Answer::json(200, json!({"namespace": "guest/utils", "name": "date"}))
    })
    .await;
    let out = run_against(&server, &["action", "get", "utils/date", "--url"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{}/api/v1/web/guest/utils/date\n", server.url)
    );
    assert!(only_request(&server).target.ends_with("?code=false"));
}

#[tokio::test]
async fn trigger_create_with_a_failing_feed_deletes_the_trigger_again() {
    let server = FakeServer::start(|req| match req.method.as_str() {
        "GET" => Answer::json(200, json!(["guest"])),
        "PUT" => Answer::json(
            200,
            json!({"namespace": "guest", "name": "t", "annotations": []}),
        ),
        "POST" => Answer::json(
            502,
            json!({"activationId": ID, "response": {"status": "application error",
                   "success": false, "result": {"error": "bad cron"}}}),
        ),
        _ => Answer::json(200, json!({"namespace": "guest", "name": "t"})),
    })
    .await;
    let out = run_against(
        &server,
        &[
            "trigger",
            "create",
            "t",
            "--feed",
            "alarms/alarm",
            "-p",
            "cron",
            "x",
        ],
    )
    .await;
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "error: the feed /guest/alarms/alarm could not create trigger /guest/t: \
             activation {ID} of /guest/alarms/alarm failed: application error: bad cron\n"
        )
    );
    let requests: Vec<(String, String, String)> = server
        .requests()
        .into_iter()
        .map(|r| (r.method, r.target, r.body))
        .collect();
    let body = |r: &(String, String, String)| serde_json::from_str::<Value>(&r.2).unwrap();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert_eq!(requests[0].1, "/api/v1/namespaces");
    assert_eq!(
        (requests[1].0.as_str(), requests[1].1.as_str()),
        ("PUT", "/api/v1/namespaces/_/triggers/t")
    );
    assert_eq!(
        body(&requests[1]),
        json!({"annotations": [{"key": "feed", "value": "/guest/alarms/alarm"}]})
    );
    assert_eq!(
        requests[2].1,
        "/api/v1/namespaces/guest/actions/alarms/alarm?blocking=true"
    );
    assert_eq!(
        body(&requests[2]),
        json!({"cron": "x", "lifecycleEvent": "CREATE", "triggerName": "/guest/t",
               "authKey": AUTH})
    );
    assert_eq!(
        (requests[3].0.as_str(), requests[3].1.as_str()),
        ("DELETE", "/api/v1/namespaces/_/triggers/t")
    );
}

#[tokio::test]
async fn firing_with_no_active_rule_says_so() {
    let server = FakeServer::start(|_| Answer {
        status: 204,
        headers: vec![],
        body: String::new(),
    })
    .await;
    let out = run_against(&server, &["trigger", "fire", "t", "-p", "n", "1"]).await;
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout, "ok: triggered /_/t, but no active rule fired\n");
    let request = only_request(&server);
    assert_eq!(request.target, "/api/v1/namespaces/_/triggers/t");
    assert_eq!(request.body, r#"{"n":1}"#);
}

mod compose;
