//! HTTP Basic `uuid:key` authentication, as an extractor.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use wisp_core::{EntityName, Identity};

use crate::{ApiError, AppState};

/// The authenticated caller.
pub struct Caller(pub Identity);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "The resource requires authentication, which was not supplied with the request",
            )
        })?;
        let invalid = || ApiError::unauthorized("The supplied authentication is invalid");
        let (uuid, key) = credentials(header).ok_or_else(invalid)?;
        let identity = state
            .controller
            .entities()
            .authenticate(&uuid, &key)
            .await?
            .ok_or_else(invalid)?;
        Ok(Caller(identity))
    }
}

/// The `uuid` and `key` of a Basic `Authorization` header.
fn credentials(header: &HeaderValue) -> Option<(String, String)> {
    let encoded = header.to_str().ok()?.strip_prefix("Basic ")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(bytes).ok()?;
    let (uuid, key) = decoded.split_once(':')?;
    Some((uuid.to_string(), key.to_string()))
}

/// The caller when the request carries valid credentials; missing or invalid ones mean an
/// anonymous caller (web actions), so only a store failure is an error.
pub async fn optional_caller(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<Identity>, ApiError> {
    let Some((uuid, key)) = headers.get(AUTHORIZATION).and_then(credentials) else {
        return Ok(None);
    };
    Ok(state
        .controller
        .entities()
        .authenticate(&uuid, &key)
        .await?)
}

impl Caller {
    /// Resolves a namespace segment of a URL: `_` is the caller's own.
    pub fn namespace(&self, segment: &str) -> Result<EntityName, ApiError> {
        if segment == "_" {
            return Ok(self.0.namespace.clone());
        }
        EntityName::parse(segment)
            .map_err(|_| ApiError::bad_request("The namespace contains illegal characters."))
    }

    /// Resolves a namespace segment and checks the caller may use `resource` in it
    /// (`actions/x`, `activations`, ...; named in the 403 message).
    pub fn entitled_namespace(
        &self,
        state: &AppState,
        segment: &str,
        resource: &str,
    ) -> Result<EntityName, ApiError> {
        let namespace = self.namespace(segment)?;
        state.controller.entities().entitle(
            &self.0,
            &namespace,
            &format!("{namespace}/{resource}"),
        )?;
        Ok(namespace)
    }
}
