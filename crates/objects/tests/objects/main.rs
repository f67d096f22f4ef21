//! The object store's behaviour, one suite for both backends: every test here runs against the
//! local filesystem (a scratch directory) and, in the full tier (`--features full-tests`),
//! against an S3 server, each test in a bucket of its own (see `support.rs`).

#[macro_use]
mod support;

mod behaviour;
#[cfg(feature = "full-tests")]
mod s3;
