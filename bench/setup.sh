#!/usr/bin/env bash
# What the benchmark compares against beyond the project itself: Debian's nginx (static files)
# and redis-tools (redis-benchmark). Installed once; the bench prints "skipped" rows without them.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
if (( ${#need[@]} )); then
    run() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
    run apt-get update -qq
    DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
