//! The tests' component: does what its `op` parameter says, to show how the server treats a
//! guest that uses its imports, keeps globals, reaches for the host or misbehaves.
//!
//! - `count`: how many activations this instance has served (a global);
//! - `kv`: set `key` to `value`, read it back, list keys by the prefix `prefix`, delete it;
//! - `objects`: put `value` under `key` in the data bucket, read it back, list the bucket;
//!   `rm`: delete `key` from it;
//! - `get`: the value of `key` in the key-value store (`null` when absent);
//! - `env`: the `HOME` and `GREETING` variables and how many variables there are;
//! - `file`: try to read `/etc/passwd`; `socket`: try to connect to 127.0.0.1:`port`;
//! - `trap` (a panic), `loop` (forever), `grow` (allocate without end), `exit` (code 3),
//!   `text` (return text that is not JSON), `fail` (return `err`).

use std::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({
    path: "../../../../wit/wisp-function.wit",
    world: "function",
});

use wisp::function::{kv, objects};

static ACTIVATIONS: AtomicU64 = AtomicU64::new(0);

struct Probe;

impl Guest for Probe {
    fn handle(params: String) -> Result<String, String> {
        let count = ACTIVATIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let op = field(&params, "op").unwrap_or("count");
        let key = field(&params, "key").unwrap_or("probe");
        let value = field(&params, "value").unwrap_or("");
        Ok(match op {
            "count" => format!("{{\"activations\":{count}}}"),
            "kv" => {
                kv::set(key, value.as_bytes(), None).map_err(describe)?;
                let read = kv::get(key).map_err(describe)?.unwrap_or_default();
                let prefix = field(&params, "prefix").unwrap_or("");
                let mut keys = kv::keys(prefix).map_err(describe)?;
                keys.sort();
                let deleted = kv::delete(key).map_err(describe)?;
                let gone = kv::get(key).map_err(describe)?.is_none();
                format!(
                    "{{\"read\":{},\"keys\":{},\"deleted\":{deleted},\"gone\":{gone}}}",
                    string(&String::from_utf8_lossy(&read)),
                    strings(&keys)
                )
            }
            "get" => match kv::get(key).map_err(describe)? {
                Some(v) => format!("{{\"value\":{}}}", string(&String::from_utf8_lossy(&v))),
                None => "{\"value\":null}".into(),
            },
            "objects" => {
                objects::put(key, value.as_bytes(), Some("text/plain")).map_err(describe)?;
                let read = objects::get(key).map_err(describe)?.unwrap_or_default();
                let page = objects::list_keys("", None, 10).map_err(describe)?;
                format!(
                    "{{\"read\":{},\"keys\":{}}}",
                    string(&String::from_utf8_lossy(&read)),
                    strings(&page.keys)
                )
            }
            "rm" => format!(
                "{{\"deleted\":{}}}",
                objects::delete(key).map_err(describe)?
            ),
            "env" => {
                let var = |k: &str| string(&std::env::var(k).unwrap_or_default());
                format!(
                    "{{\"home\":{},\"greeting\":{},\"variables\":{}}}",
                    var("HOME"),
                    var("GREETING"),
                    std::env::vars().count()
                )
            }
            "file" => match std::fs::read_to_string("/etc/passwd") {
                Ok(_) => "{\"read\":true}".into(),
                Err(e) => format!("{{\"read\":false,\"reason\":{}}}", string(&e.to_string())),
            },
            "socket" => {
                let port = field(&params, "port").unwrap_or("80");
                match std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
                    Ok(_) => "{\"connected\":true}".into(),
                    Err(e) => format!(
                        "{{\"connected\":false,\"reason\":{}}}",
                        string(&e.to_string())
                    ),
                }
            }
            "trap" => panic!("the probe was asked to trap"),
            "loop" => loop {
                std::hint::black_box(count);
            },
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "exit" => std::process::exit(3),
            "text" => "this is not JSON".into(),
            "fail" => return Err(format!("the probe failed on purpose after {count}")),
            other => return Err(format!("unknown op {other}")),
        })
    }
}

/// What a refused state operation says, as the activation's error.
fn describe(e: wisp::function::types::Error) -> String {
    use wisp::function::types::Error::*;
    match e {
        Invalid(m) => format!("invalid: {m}"),
        Quota(m) => format!("quota: {m}"),
        WrongType(m) => format!("wrong-type: {m}"),
        NotANumber(m) => format!("not-a-number: {m}"),
        TooLarge(m) => format!("too-large: {m}"),
        Failed(m) => format!("failed: {m}"),
    }
}

/// The string value of `"key":"value"` in a flat JSON object of strings (the tests send no
/// escapes), without a JSON library.
fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn strings(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", inner.join(","))
}

export!(Probe);
