//! One module per command family; each turns parsed arguments into requests and output.

pub mod action;
mod action_put;
pub mod activation;
mod entity;
mod feed;
mod invoke;
pub mod kv;
pub mod namespace;
pub mod object;
pub mod package;
mod poll;
pub mod project;
pub mod property;
pub mod rule;
pub mod top;
mod tree;
pub mod trigger;
