//! One module per collection of the API.

pub mod actions;
pub mod activations;
pub mod info;
pub mod packages;
pub mod rules;
pub mod triggers;
pub mod web;

use wisp_core::{EntityName, NameError};

use crate::ApiError;

/// An entity name from a URL segment, with OpenWhisk's messages.
pub fn entity_name(segment: &str) -> Result<EntityName, ApiError> {
    EntityName::parse(segment).map_err(|e| match e {
        NameError::TooLong(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::bad_request(NameError::IllegalCharacters.to_string()),
    })
}
