//! Sequences and conductor actions from the `wisp` CLI against a real server: creating them
//! with `--sequence` and `-a conductor true`, and reading what ran with `activation get --tree`.

use serde_json::json;

use crate::support::{annotation, json_of, ok, source, Server};

/// Invokes blocking and returns the activation id.
fn invoke(server: &Server, name: &str, params: &[&str]) -> String {
    let mut args = vec!["action", "invoke", name, "-b", "--json"];
    args.extend(params);
    let record = json_of(&ok(server, &args));
    record["activationId"].as_str().unwrap().to_string()
}

/// The lines of `activation get ID --tree`: the branches before the id, and the columns from
/// the id on (id, action, kind, status, duration).
fn tree(server: &Server, id: &str) -> Vec<(String, Vec<String>)> {
    ok(server, &["activation", "get", id, "--tree"])
        .lines()
        .map(|line| {
            let start = line.find(|c: char| c.is_ascii_hexdigit()).expect("an id");
            let columns = line[start..]
                .split("  ")
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            (line[..start].to_string(), columns)
        })
        .collect()
}

const INC: &str = "function main(p) { return { v: (p.v || 0) + 1 } }";
const DOUBLE: &str = "function main(p) { return { v: p.v * 2 } }";
const CONDUCTOR: &str = "function main(p) {
  if (p.done) return { params: { v: p.v } }
  return { action: 'inc', params: { v: p.v }, state: { done: true } }
}";

#[tokio::test]
async fn sequences_from_the_command_line() {
    let server = Server::start();
    ok(
        &server,
        &["action", "create", "inc", &source(&server, "inc.js", INC)],
    );
    let double = source(&server, "double.js", DOUBLE);
    ok(&server, &["action", "create", "double", &double]);

    let out = ok(
        &server,
        &["action", "create", "pipe", "--sequence", "inc,double"],
    );
    assert_eq!(out, "ok: created action pipe\n");
    let pipe = json_of(&ok(&server, &["action", "get", "pipe"]));
    assert_eq!(pipe["exec"]["kind"], "sequence", "{pipe}");
    assert_eq!(pipe["exec"]["components"].as_array().unwrap().len(), 2);
    let summary = ok(&server, &["action", "get", "pipe", "--summary"]);
    assert!(summary.contains("kind        sequence"), "{summary}");
    assert!(summary.contains("components"), "{summary}");

    let result = json_of(&ok(
        &server,
        &["action", "invoke", "pipe", "-p", "v", "1", "-r"],
    ));
    assert_eq!(result, json!({"v": 4}));

    let both = server.cli(&["action", "create", "x", &double, "--sequence", "inc"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "a file and --sequence do not mix"
    );

    // A sequence in a sequence, named with an explicit namespace.
    ok(
        &server,
        &["action", "update", "pipe", "--sequence", "double,inc"],
    );
    ok(
        &server,
        &[
            "action",
            "create",
            "outer",
            "--sequence",
            "/_/pipe,/guest/inc",
        ],
    );
    let id = invoke(&server, "outer", &["-p", "v", "1"]);
    let lines = tree(&server, &id);
    let shape: Vec<(&str, &str)> = lines
        .iter()
        .map(|(branches, cols)| (branches.as_str(), cols[1].as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("", "guest/outer"),
            ("├─ ", "guest/pipe"),
            ("│  ├─ ", "guest/double"),
            ("│  └─ ", "guest/inc"),
            ("└─ ", "guest/inc"),
        ],
        "{lines:?}"
    );
    assert_eq!(lines[0].1[0], id);
    assert_eq!(lines[0].1[2], "sequence");
    assert_eq!(lines[1].1[2], "sequence");
    assert!(
        lines.iter().all(|(_, cols)| cols[3] == "success"),
        "{lines:?}"
    );

    let list = ok(&server, &["activation", "list", "outer"]);
    let row = list.lines().find(|l| l.contains(&id)).expect("listed");
    assert!(row.contains("  sequence  "), "{list}");
}

#[tokio::test]
async fn conductor_actions_from_the_command_line() {
    let server = Server::start();
    ok(
        &server,
        &["action", "create", "inc", &source(&server, "inc.js", INC)],
    );
    let conductor = source(&server, "conductor.js", CONDUCTOR);
    ok(
        &server,
        &[
            "action",
            "create",
            "cond",
            &conductor,
            "-a",
            "conductor",
            "true",
        ],
    );
    let action = json_of(&ok(&server, &["action", "get", "cond"]));
    assert_eq!(annotation(&action, "conductor"), Some(&json!(true)));

    let id = invoke(&server, "cond", &["-p", "v", "1"]);
    let result = json_of(&ok(&server, &["activation", "result", &id]));
    assert_eq!(result, json!({"v": 2}));

    let lines = tree(&server, &id);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        lines[0].1[..4],
        [id.as_str(), "guest/cond", "sequence (conductor)", "success"]
    );
    let children: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|(branches, cols)| (branches.as_str(), cols[1].as_str()))
        .collect();
    assert_eq!(
        children,
        [
            ("├─ ", "guest/cond"),
            ("├─ ", "guest/inc"),
            ("└─ ", "guest/cond")
        ]
    );
    for (_, cols) in &lines[1..] {
        assert!(cols[2].starts_with("nodejs"), "{cols:?}");
        assert_eq!(cols[3], "success");
        assert!(cols[4].ends_with("ms"), "{cols:?}");
    }
    // The children are the records the composition lists, in that order.
    let record = json_of(&ok(&server, &["activation", "get", &id]));
    let logged: Vec<&str> = record["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let shown: Vec<&str> = lines[1..]
        .iter()
        .map(|(_, cols)| cols[0].as_str())
        .collect();
    assert_eq!(shown, logged);

    let plain = invoke(&server, "inc", &["-p", "v", "1"]);
    let lines = tree(&server, &plain);
    assert_eq!(
        lines.len(),
        1,
        "a plain activation is just the root: {lines:?}"
    );
}
