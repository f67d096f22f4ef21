//! What makes a binary a runnable `wasm` action, checked when the action is written so that a
//! bad binary is a 400 at create time, not a failure at every invoke.

use wasmtime::{ExternType, Module};

use crate::WasmError;

/// The only import module a guest may use.
pub(crate) const WASI_P1: &str = "wasi_snapshot_preview1";

/// What a binary's header says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A core module: a WASI preview-1 command.
    Module,
    /// A component: Wisp's `function` world.
    Component,
}

/// The binary's header (bytes 4–7 after `\0asm`): a core module or a component.
pub(crate) fn check_header(bytes: &[u8]) -> Result<Format, WasmError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(invalid(
            "the code is not a WebAssembly binary (a .wasm file starts with the bytes \\0asm)",
        ));
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Ok(Format::Module),
        [0x0d, 0, 1, 0] => Ok(Format::Component),
        _ => Err(invalid(
            "the code is a WebAssembly binary of an unknown version",
        )),
    }
}

/// A compiled module is a WASI preview-1 command: `_start` of type `() -> ()`, and imports from
/// WASI preview 1 only (whether each named function exists is the linker's check).
pub(crate) fn check_module(module: &Module) -> Result<(), WasmError> {
    match module.get_export("_start") {
        Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
        Some(_) => {
            return Err(invalid(
                "the module's `_start` export is not a function without parameters and results",
            ))
        }
        None => {
            return Err(invalid(
                "the module exports no `_start` function: a wasm action must be a WASI preview 1 command (a program with a main function, built for wasm32-wasip1)",
            ))
        }
    }
    let foreign: Vec<String> = module
        .imports()
        .filter(|i| i.module() != WASI_P1)
        .map(|i| format!("`{}::{}`", i.module(), i.name()))
        .collect();
    if !foreign.is_empty() {
        return Err(invalid(format!(
            "the module imports {}, outside WASI preview 1 ({WASI_P1}), the only imports a wasm action may use",
            foreign.join(", ")
        )));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> WasmError {
    WasmError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_modules_from_components_and_junk() {
        assert_eq!(check_header(b"\0asm\x01\0\0\0"), Ok(Format::Module));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0"), Ok(Format::Component));
        let junk = check_header(b"hello world").unwrap_err();
        assert!(
            junk.to_string().contains("not a WebAssembly binary"),
            "{junk}"
        );
    }
}
