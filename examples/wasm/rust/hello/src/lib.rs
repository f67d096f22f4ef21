//! A Wisp action as a WebAssembly component of the world `wisp:function/function@0.1.0`
//! (`wit/wisp-function.wit`): greets its `name` parameter and logs a line.

wit_bindgen::generate!({
    path: "../../../../wit/wisp-function.wit",
    world: "function",
});

use wisp::function::log::{log, Level};

struct Hello;

impl Guest for Hello {
    fn handle(params: String) -> Result<String, String> {
        // The params are a JSON object; a real action would use serde_json.
        let name = field(&params, "name").unwrap_or("World");
        log(Level::Info, &format!("greeting {name}"));
        Ok(format!("{{\"greeting\":\"Hello, {name}!\"}}"))
    }
}

/// The string value of `"key":"value"` in a flat JSON object, without a JSON library.
fn field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

export!(Hello);
