//! One module per command family; each turns parsed arguments into requests and output.

pub mod action;
mod action_put;
pub mod activation;
mod invoke;
pub mod namespace;
mod poll;
pub mod property;
