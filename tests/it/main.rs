//! End-to-end tests: the real `wisp` binary on a random loopback port, driven over HTTP, by the
//! CLI and by the official `openwhisk` npm client. One test binary, so linking is paid once.

mod support;
mod tools;

mod actions_api;
mod activations_api;
mod alarms;
mod bad_input;
mod browser;
mod cli;
mod cli_compose;
mod cli_model;
mod cluster;
mod compat;
mod compositions;
mod connections;
mod crash_safety;
mod fail_fast;
mod hostile;
mod kubernetes;
mod kv;
mod kv_api;
mod kv_redis;
mod logs;
mod metrics;
mod misbehaving;
mod model;
mod nimbella_deployer;
mod node_sdk;
mod objects;
mod objects_s3;
mod outbound;
mod pool;
mod projects;
mod runtimes;
mod s3;
mod secrets;
mod sites;
mod state;
mod store_postgres;
mod wasm;
mod wasm_component;
mod wasm_support;
mod web_actions;
