#!/usr/bin/env bash
# Rebuilds the JavaScript component examples from their sources: installs componentize-qjs
# (pinned by package-lock.json) from the npm registry into ./node_modules, then builds each
# .js file against Wisp's world (wit/wisp-function.wit) with the non-async QuickJS runtime
# (`--sync`: wasmtime here runs without the component-model async ABI).
#
#   examples/wasm/js/build.sh            # every example
#   examples/wasm/js/build.sh hello      # one
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

npm ci --no-audit --no-fund --silent
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then names=(hello counter greet noop tally); fi
for name in "${names[@]}"; do
    node node_modules/componentize-qjs/cli.mjs \
        --wit ../../../wit/wisp-function.wit --world function --sync \
        --js "$name.js" -o "$name.wasm"
done
