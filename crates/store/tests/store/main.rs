//! The store's behaviour, one suite for both backends: every test here runs against SQLite
//! (files in a scratch directory) and, in the full tier (`--features full-tests`), against
//! the machine's PostgreSQL, each test in a database of its own (see `support.rs`).

#[macro_use]
mod support;

mod activations;
mod entities;
mod namespaces;
#[cfg(feature = "full-tests")]
mod postgres;
