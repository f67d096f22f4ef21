//! The `wisp` CLI against a real server, as a user types it.

use serde_json::Value;

use crate::support::{stdout, Server};

#[tokio::test]
async fn create_invoke_and_read_activations_from_the_command_line() {
    let server = Server::start();
    let hello = server.home().join("hello.js");
    std::fs::write(
        &hello,
        "function main(p){ console.log('hi ' + p.name); return {greeting: 'Hello ' + p.name} }",
    )
    .unwrap();
    let hello = hello.to_str().unwrap();

    let out = server.cli(&["action", "create", "hello", hello]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("ok: created action hello"));
    let again = server.cli(&["action", "create", "hello", hello]);
    assert_eq!(again.status.code(), Some(1), "creating twice fails");
    assert!(String::from_utf8_lossy(&again.stderr).contains("resource already exists"));

    let out = server.cli(&["action", "invoke", "hello", "-p", "name", "Ada", "--result"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["greeting"], "Hello Ada");

    let out = server.cli(&["action", "invoke", "hello", "-p", "name", "Bob"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let id = text.trim().rsplit(' ').next().unwrap().to_string();
    assert!(text.starts_with("ok: invoked /_/hello with id "), "{text}");
    server.wait_for_activation(&id).await;

    let out = server.cli(&["activation", "logs", &id, "--strip"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "hi Bob");
    let out = server.cli(&["activation", "result", &id]);
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["greeting"], "Hello Bob");
    let out = server.cli(&["activation", "get", &id]);
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(record["activationId"], id.as_str());
    let out = server.cli(&["activation", "list", "hello"]);
    assert!(stdout(&out).contains(&id), "{}", stdout(&out));
    let out = server.cli(&["activation", "poll", "--exit", "0", "--since-seconds", "60"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("hi Bob"), "{}", stdout(&out));

    let out = server.cli(&["action", "list", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], "hello");
    let out = server.cli(&["namespace", "list"]);
    assert!(stdout(&out).contains("guest"));

    let failing = server.home().join("fail.py");
    std::fs::write(&failing, "def main(a):\n    return {'error': 'nope'}").unwrap();
    server.cli(&["action", "create", "fail", failing.to_str().unwrap()]);
    let out = server.cli(&["action", "invoke", "fail", "-r"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed activation exits non-zero"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));

    let out = server.cli(&["action", "delete", "hello"]);
    assert!(out.status.success());
    let out = server.cli(&["action", "get", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("The requested resource does not exist."));
}

#[tokio::test]
async fn the_cli_reads_the_properties_file_the_server_wrote() {
    let server = Server::start();
    let out = std::process::Command::new(crate::support::wisp_binary())
        .args(["namespace", "list"])
        .env("HOME", server.home())
        .env_remove("WSK_CONFIG_FILE")
        .env_remove("WISP_APIHOST")
        .env_remove("WISP_AUTH")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("guest"));
}
