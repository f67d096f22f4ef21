//! OpenWhisk's error responses: `{"error": "<message>", "code": "<transaction id>"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use wisp_controller::ControllerError;
use wisp_kv::KeysError;
use wisp_kv::Refusal;
use wisp_objects::ObjectError;

use crate::middleware::transaction_id;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist.",
        )
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
}

/// Each controller error has exactly one status code.
impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> Self {
        let status = match &e {
            ControllerError::NotFound | ControllerError::Missing(_) => StatusCode::NOT_FOUND,
            ControllerError::Conflict(_) | ControllerError::Modified => StatusCode::CONFLICT,
            ControllerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControllerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ControllerError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ControllerError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ControllerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ControllerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let ControllerError::Internal(detail) = &e {
            // The detail may name files of the server: the log has it, the client need not.
            tracing::error!(error = %detail, "internal error");
            return ApiError::new(status, "The server encountered an internal error.");
        }
        ApiError::new(status, e.to_string())
    }
}

impl ApiError {
    /// An error reply of the key-value store; each kind of refusal has one status code.
    pub fn kv_refusal(error: &str) -> ApiError {
        let status = match Refusal::of(error) {
            Refusal::WrongType | Refusal::NotANumber => StatusCode::CONFLICT,
            Refusal::Quota => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Invalid => StatusCode::BAD_REQUEST,
            Refusal::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The code word (`ERR`, `WRONGTYPE`) is Redis's business, not an HTTP client's.
        let message = error
            .split_once(' ')
            .filter(|(word, _)| word.chars().all(|c| c.is_ascii_uppercase()))
            .map_or(error, |(_, rest)| rest);
        ApiError::new(status, message)
    }

    pub fn kv_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the key-value store is not running",
        )
    }
}

/// Each key-value error has one status code; a route that sends an expiry names the parameter
/// it came from itself.
impl From<KeysError> for ApiError {
    fn from(e: KeysError) -> Self {
        match e {
            KeysError::Refused(text) => ApiError::kv_refusal(&text),
            KeysError::Key { error, .. } => ApiError::from(*error),
            KeysError::BadExpiry => ApiError::bad_request("The expiry is too large."),
            KeysError::Unsettled(key) => ApiError::new(
                StatusCode::CONFLICT,
                format!("The key '{key}' kept changing type while it was read; try again."),
            ),
            // Logged where it was met.
            KeysError::Unexpected(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected reply from the key-value store",
            ),
        }
    }
}

/// Each object storage error has exactly one status code.
impl From<ObjectError> for ApiError {
    fn from(e: ObjectError) -> Self {
        let status = match &e {
            ObjectError::InvalidKey(_) => StatusCode::BAD_REQUEST,
            ObjectError::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ObjectError::Quota { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ObjectError::Conflict(_) => StatusCode::CONFLICT,
            // A body cut short is the client's doing; one past the upload limit is refused.
            ObjectError::Body(io) if io.kind() == std::io::ErrorKind::FileTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ObjectError::Body(_) => StatusCode::BAD_REQUEST,
            ObjectError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "object storage failed");
        }
        let message = match e {
            ObjectError::Body(io) if status == StatusCode::PAYLOAD_TOO_LARGE => io.to_string(),
            e => e.to_string(),
        };
        ApiError::new(status, message)
    }
}

impl ApiError {
    pub fn objects_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "object storage is not running",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "code": transaction_id()});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"OpenWhisk secure realm\""),
            );
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The body may be refused before it was read whole; a client that reused the
            // connection would send its next request into the rest of it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP method not allowed, supported methods: GET, PUT, POST, DELETE",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_refusals_map_to_one_status_each_without_the_code_word() {
        let wrong = ApiError::kv_refusal(
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        assert_eq!(wrong.status, StatusCode::CONFLICT);
        assert_eq!(
            wrong.message,
            "Operation against a key holding the wrong kind of value"
        );
        let quota = ApiError::kv_refusal("ERR quota exceeded: namespace 'a' would hold 9 bytes");
        assert_eq!(quota.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(quota.message.starts_with("quota exceeded"));
        let nan = ApiError::kv_refusal("ERR value is not an integer or out of range");
        assert_eq!(nan.status, StatusCode::CONFLICT);
        assert_eq!(
            ApiError::kv_refusal("ERR syntax error").status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::kv_refusal("ERR kv persistence stopped").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
