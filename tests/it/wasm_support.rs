//! What the `wasm` tests share: the committed guests under `examples/wasm`, PUTs of wasm
//! actions, and reading what their activations recorded.

use base64::Engine;
use serde_json::{json, Value};

use crate::support::Server;

/// A committed guest's bytes; `path` is relative to `examples/wasm`, without `.wasm`
/// (`c/hello`, `js/counter`).
pub fn fixture(path: &str) -> Vec<u8> {
    let path = format!("{}/examples/wasm/{path}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A committed guest as an action's `code`.
pub fn code(path: &str) -> String {
    base64_of(&fixture(path))
}

/// PUTs a wasm action from `code` (base64) as `auth` (the guest when `None`), `extra` merged
/// into the body; returns the status and body.
pub async fn put_wasm_as(
    server: &Server,
    auth: Option<&str>,
    name: &str,
    code: &str,
    extra: Value,
) -> (u16, Value) {
    let mut body = json!({"exec": {"kind": "wasm", "code": code, "binary": true}});
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            body[k] = v;
        }
    }
    let request = server
        .request_by(
            auth,
            reqwest::Method::PUT,
            &format!("namespaces/_/actions/{name}?overwrite=true"),
        )
        .json(&body);
    server.send(request).await
}

/// A blocking invoke's record (200 or 502), as `auth`.
pub async fn record_as(server: &Server, auth: Option<&str>, name: &str, params: Value) -> Value {
    let request = server
        .request_by(
            auth,
            reqwest::Method::POST,
            &format!("namespaces/_/actions/{name}?blocking=true"),
        )
        .json(&params);
    let (status, record) = server.send(request).await;
    assert!(status == 200 || status == 502, "{status}: {record}");
    record
}

pub async fn record(server: &Server, name: &str, params: Value) -> Value {
    record_as(server, None, name, params).await
}

/// A failed activation's status and error message.
pub fn failure(record: &Value) -> (&str, &str) {
    (
        record["response"]["status"].as_str().unwrap_or_default(),
        record["response"]["result"]["error"]
            .as_str()
            .unwrap_or_default(),
    )
}

pub fn logs(record: &Value) -> Vec<&str> {
    record["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

/// The `.cwasm` artifacts the server keeps, with their modification times.
pub fn artifacts(server: &Server) -> Vec<(String, std::time::SystemTime)> {
    let dir = server.data_dir().join("runtime/wasm");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
        .map(|e| {
            let modified = e.metadata().unwrap().modified().unwrap();
            (e.file_name().to_string_lossy().into_owned(), modified)
        })
        .collect();
    found.sort();
    found
}
