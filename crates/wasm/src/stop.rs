//! How a guest is stopped and its failures named: the epoch deadline that enforces an
//! activation's time limit, and the root cause that names a wasmtime error.

use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

/// Lets the guest of `store` run for `timeout` from now: at every epoch tick it yields to the
/// executor and carries on, until the deadline has passed; then it traps with
/// `Trap::Interrupt`, which is how a guest's timeout stops it.
pub(crate) fn run_for<T: 'static>(store: &mut Store<T>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        }
    });
}

/// The innermost cause, which is what names the problem (wasmtime wraps it in context).
pub(crate) fn root(e: &wasmtime::Error) -> String {
    e.root_cause().to_string()
}
