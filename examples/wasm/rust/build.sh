#!/usr/bin/env bash
# Rebuilds the Rust component examples: needs rustup's wasm32-wasip2 target (added here if
# missing; the tests never build these, they load the committed .wasm files) and fetches
# wit-bindgen from crates.io. Each crate becomes <name>.wasm beside this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

rustup target add wasm32-wasip2
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo build --release --target wasm32-wasip2
for name in hello probe foreign; do
    cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/$name.wasm" "$name.wasm"
done
ls -l ./*.wasm
