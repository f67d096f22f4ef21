//! One module per collection of the API.

pub mod actions;
pub mod activations;
pub mod info;
pub mod web;
