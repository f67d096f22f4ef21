//! The controller's behaviour through its public API, with the runtime replaced by scripts
//! (`wisp_controller::testing`): invocation, compositions, packages and bindings, rules and
//! triggers. No process, socket or disk: these run with only Rust installed.

mod compositions;
mod invoke;
mod packages;
mod support;
mod triggers;
