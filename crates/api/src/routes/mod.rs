//! One module per collection of the API.

pub mod actions;
pub mod activations;
pub mod entities;
pub mod info;
pub mod kv;
pub mod login;
pub mod objects;
pub mod packages;
pub mod rules;
pub mod triggers;
pub mod web;

use axum::http::StatusCode;
use wisp_core::{EntityName, EntityPath, NameError};

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// An entity name from a URL segment, with OpenWhisk's messages.
pub fn entity_name(segment: &str) -> Result<EntityName, ApiError> {
    EntityName::parse(segment).map_err(|e| match e {
        NameError::TooLong(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::bad_request(NameError::IllegalCharacters.to_string()),
    })
}

/// The path of a package, trigger or rule in `collection` of the caller's own namespace.
pub fn own_entity(
    caller: &Caller,
    state: &AppState,
    ns: &str,
    collection: &str,
    name: &str,
) -> Result<EntityPath, ApiError> {
    let namespace = caller.entitled_namespace(state, ns, &format!("{collection}/{name}"))?;
    Ok(EntityPath::new(namespace, None, entity_name(name)?))
}

/// An invoke or fire body over the limit.
pub fn payload_too_large(size: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request larger than allowed: {size} > {max} bytes."),
    )
}
