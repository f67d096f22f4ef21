//! The API router driven in process with `oneshot`: the JSON bodies, status codes and
//! OpenWhisk error shapes a client sees, over the real controller with scripted runtimes. No
//! socket or process (the key-value tests keep their store in a temporary directory): these run
//! with only Rust installed.

mod actions;
mod entities;
mod errors;
mod kv;
mod support;
