#!/usr/bin/env bash
# Rebuilds the Python component example: installs componentize-py (pinned in requirements.txt)
# from PyPI into ./site, then builds hello.py against Wisp's world (wit/wisp-function.wit).
# The result is about 18 MB (CPython is inside) and is not committed; no test needs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

want="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ "$(cat site/.requirements.sha256 2>/dev/null)" != "$want" ]]; then
    rm -rf site
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target site -r requirements.txt
    echo "$want" > site/.requirements.sha256
fi
PYTHONPATH=site python3 -c "import componentize_py; componentize_py.script()" \
    -d ../../../wit/wisp-function.wit -w function componentize hello -o hello.wasm
ls -l hello.wasm
