#!/usr/bin/env bash
# Refreshes the npm modules bundled with the Node.js runtime: installs what
# crates/invoker/runtime/nodejs/package-lock.json pins (`openwhisk` and its dependencies) in a
# temporary directory and writes them as node_modules.zip beside it, with node_modules.zip.sha256
# (the archive's SHA-256 and the lock file's, in `sha256sum -c` form). Commit both: the build
# embeds the archive and checks it against that file, so building Wisp needs no npm.
#
# Run it after changing package.json/package-lock.json. The zip is deterministic (sorted entries,
# fixed timestamps and modes), so the same lock file gives the same bytes.
#
#   scripts/vendor-node-modules.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
project=crates/invoker/runtime/nodejs

for tool in npm python3 sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "vendor-node-modules: $tool is missing (install Node.js 20 with npm, and Python 3)" >&2
        exit 1
    }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$project/package.json" "$project/package-lock.json" "$work/"
(cd "$work" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)

# The files worth shipping: no symlinks (`.bin`), dotfiles, docs (`.md`) or test suites and
# examples. Paths in the zip are relative to node_modules.
python3 - "$work/node_modules" "$work/node_modules.zip" <<'PY'
import os, sys, zipfile

root, out = sys.argv[1], sys.argv[2]
skipped_dirs = {"test", "tests", "example", "examples"}
files = []
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [
        d for d in dirnames
        if not d.startswith(".")
        and d not in skipped_dirs
        and not os.path.islink(os.path.join(dirpath, d))
    ]
    for name in filenames:
        path = os.path.join(dirpath, name)
        if name.startswith(".") or name.endswith(".md") or os.path.islink(path):
            continue
        files.append(os.path.relpath(path, root).replace(os.sep, "/"))

with zipfile.ZipFile(out, "w") as archive:
    for name in sorted(files):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # Unix, so the mode below is read as one
        info.external_attr = 0o100644 << 16
        with open(os.path.join(root, name), "rb") as f:
            archive.writestr(info, f.read(), compresslevel=9)
print(f"vendor-node-modules: {len(files)} files", file=sys.stderr)
PY

mv "$work/node_modules.zip" "$project/node_modules.zip"
(cd "$project" && sha256sum node_modules.zip package-lock.json > node_modules.zip.sha256)
echo "vendor-node-modules: wrote $project/node_modules.zip ($(stat -c %s "$project/node_modules.zip") bytes)"
