# syntax=docker/dockerfile:1
#
# The `wisp` binary with what its functions run on: Node.js 20 and Python 3. One image for every
# role (`wisp serve`, `wisp controller`, `wisp invoker`); the role is the first argument.
#
#   docker build -t wisp .
#   docker run --rm -p 3233:3233 wisp serve --sandbox off     # one machine, functions trusted
#
# deploy/kubernetes runs it as a cluster; docs/CLUSTER.md says which privileges the invoker's
# function sandbox needs there.

ARG RUST_VERSION=1.95
ARG NODE_MAJOR=20

# Build: the Rust toolchain image, the exact dependency versions of Cargo.lock.
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep the registry and the build between runs; the binary is copied out of the
# cached target directory in the same step, since a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin wisp \
    && install -m 0755 target/release/wisp /usr/local/bin/wisp

# Node.js comes from its project's own image: Debian bookworm packages Node.js 18.
FROM node:${NODE_MAJOR}-bookworm-slim AS node

# Run: Debian bookworm, as the build, so the binary finds the same glibc.
FROM debian:bookworm-slim
# python3 for `python:3` functions, ca-certificates for TLS to PostgreSQL, S3 and functions'
# own HTTPS calls, tzdata for the time zone functions see.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
# Only the node binary: functions' npm modules are bundled in wisp. It lives under /usr, which
# the sandbox binds read-only into every function's root.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=build /usr/local/bin/wisp /usr/local/bin/wisp
# A user of its own for the roles that need no privileges (`wisp controller`). The invoker's
# pod runs it as root inside a user namespace of its own (hostUsers: false), which it needs to
# build function sandboxes.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/wisp --create-home wisp
ENV WISP_DATA_DIR=/var/lib/wisp \
    WISP_NODE=/usr/local/bin/node \
    WISP_PYTHON=/usr/bin/python3 \
    WISP_LISTEN=0.0.0.0:3233
USER 10001:10001
WORKDIR /var/lib/wisp
EXPOSE 3233
ENTRYPOINT ["wisp"]
CMD ["serve"]
