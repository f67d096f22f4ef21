#!/usr/bin/env bash
# The project's single test command: installs the compat suite's npm packages (the official
# `openwhisk` client, pinned in tests/compat/package-lock.json), then runs every Rust test,
# including tests/it/compat.rs which drives a real server with that client.
#
#   scripts/test.sh                  # everything
#   scripts/test.sh --test it compat # extra args go to `cargo test --workspace`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# npm ci only when node_modules was not installed from the current lock file.
compat=tests/compat
stamp="$compat/node_modules/.package-lock.sha256"
want="$(sha256sum "$compat/package-lock.json" | cut -d' ' -f1)"
if [[ ! -d "$compat/node_modules/openwhisk" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    npm ci --prefix "$compat" --no-audit --no-fund
    echo "$want" > "$stamp"
fi

cargo test --workspace "$@"
