//! The HTTP response of a web action: its result projected according to the URL's extension.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use base64::Engine;
use serde_json::Value;
use wisp_core::action::looks_like_base64;
use wisp_core::Outcome;

use super::media::MediaType;
use super::Extension;
use crate::ApiError;

pub const ERROR_PROCESSING: &str = "There was an error processing your request.";
pub const PROPERTY_NOT_FOUND: &str = "Response does not include requested property.";
const UNKNOWN_CONTENT_TYPE: &str = "Response did not specify a known content-type.";
const CONTENT_TYPE_MISMATCH: &str = "Response type in header did not match generated content type.";

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=UTF-8";
const TEXT: &str = "text/plain; charset=UTF-8";
const SVG: &str = "image/svg+xml";

/// A response ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    /// Headers the action asked for (never `Content-Type`), in order; repeats are kept.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: Some(content_type.to_string()),
            body: body.into(),
        }
    }
}

/// Projects what an activation produced: the result of a success, the `error` value of an
/// application error. Any other outcome is the developer's or the platform's failure.
pub fn project(extension: Extension, outcome: Outcome, result: &Value) -> Result<Reply, ApiError> {
    let value = match outcome {
        Outcome::Success => result,
        Outcome::ApplicationError => result.get("error").ok_or_else(property_not_found)?,
        Outcome::DeveloperError | Outcome::InternalError => {
            return Err(ApiError::bad_request(ERROR_PROCESSING))
        }
    };
    match extension {
        Extension::Json => match value {
            Value::Object(_) | Value::Array(_) => Ok(Reply::ok(JSON, pretty(value))),
            _ => Err(invalid_media(JSON)),
        },
        Extension::Html => string_field(value, "html")
            .map(|html| Reply::ok(HTML, html))
            .ok_or_else(|| invalid_media("text/html")),
        Extension::Svg => string_field(value, "svg")
            .map(|svg| Reply::ok(SVG, svg))
            .ok_or_else(|| invalid_media(SVG)),
        Extension::Text => text(value).map(|text| Reply::ok(TEXT, text)),
        Extension::Http => http(value).ok_or_else(|| invalid_media("message/http"))?,
    }
}

/// `body`, else the named field, of an object; any other value itself; if a string.
fn string_field(value: &Value, field: &str) -> Option<String> {
    let chosen = match value {
        Value::Object(o) => o.get("body").or_else(|| o.get(field))?,
        other => other,
    };
    chosen.as_str().map(str::to_string)
}

fn text(value: &Value) -> Result<String, ApiError> {
    let chosen = match value {
        Value::Object(o) => o
            .get("body")
            .or_else(|| o.get("text"))
            .ok_or_else(property_not_found)?,
        other => other,
    };
    Ok(match chosen {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => pretty(chosen),
        scalar => scalar.to_string(),
    })
}

/// `{statusCode, headers, body}`; `None` when the shape itself is wrong (→ "not valid
/// 'message/http'"), `Some(Err)` for a body that does not fit its content type.
fn http(value: &Value) -> Option<Result<Reply, ApiError>> {
    let fields = value.as_object()?;
    let mut headers = Vec::new();
    match fields.get("headers") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                header_values(name, value, &mut headers)?;
            }
        }
        Some(_) => return None,
    }
    let status = match fields.get("statusCode") {
        None => None,
        Some(Value::Number(n)) => Some(status_code(n.as_u64()?)?),
        Some(Value::String(s)) => Some(status_code(s.parse().ok()?)?),
        Some(_) => return None,
    };
    let content_type = headers
        .iter()
        .find(|(name, _)| name == axum::http::header::CONTENT_TYPE)
        .map(|(_, value)| value.to_str().unwrap_or("").to_string());
    headers.retain(|(name, _)| name != axum::http::header::CONTENT_TYPE);
    let reply = |default: StatusCode, content_type: Option<String>, body: Vec<u8>| Reply {
        status: status.unwrap_or(default),
        headers: headers.clone(),
        content_type,
        body,
    };
    Some(match fields.get("body") {
        None | Some(Value::Null) => Ok(reply(StatusCode::NO_CONTENT, None, Vec::new())),
        Some(Value::String(s)) if s.is_empty() => {
            Ok(reply(StatusCode::NO_CONTENT, None, Vec::new()))
        }
        Some(Value::String(s)) => string_body(s, content_type.as_deref())
            .map(|(ct, body)| reply(StatusCode::OK, Some(ct), body)),
        Some(json) => json_body(json, content_type.as_deref())
            .map(|(ct, body)| reply(StatusCode::OK, Some(ct), body)),
    })
}

fn status_code(code: u64) -> Option<StatusCode> {
    u16::try_from(code)
        .ok()
        .filter(|c| (100..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
}

/// A header value may be a string, number or boolean, or an array of those (one header each).
fn header_values(
    name: &str,
    value: &Value,
    out: &mut Vec<(HeaderName, HeaderValue)>,
) -> Option<()> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            for item in items {
                header_values(name, item, out)?;
            }
            return Some(());
        }
        Value::Null | Value::Object(_) => return None,
    };
    let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
    out.push((name, HeaderValue::from_str(&text).ok()?));
    Some(())
}

/// A string body: binary types are base64-decoded, JSON-family types too when the string looks
/// like base64, text types are sent as they are. Without a content type it is HTML.
fn string_body(body: &str, content_type: Option<&str>) -> Result<(String, Vec<u8>), ApiError> {
    let (media, content_type) = match content_type {
        None => (
            MediaType::parse("text/html").expect("valid"),
            "text/html".to_string(),
        ),
        Some(ct) => (
            MediaType::parse(ct).ok_or_else(|| ApiError::bad_request(UNKNOWN_CONTENT_TYPE))?,
            ct.to_string(),
        ),
    };
    let decode = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| ApiError::bad_request(CONTENT_TYPE_MISMATCH))
    };
    if media.is_json_family() {
        let bytes = if looks_like_base64(body) {
            decode(body)?
        } else {
            body.as_bytes().to_vec()
        };
        return Ok((content_type, bytes));
    }
    if media.is_binary() {
        return Ok((content_type, decode(body)?));
    }
    // Text is sent as UTF-8, so say so when the action did not.
    let content_type = if media.has_charset {
        content_type
    } else {
        format!("{content_type}; charset=UTF-8")
    };
    Ok((content_type, body.as_bytes().to_vec()))
}

/// A JSON body needs a JSON-family content type (default `application/json`).
fn json_body(body: &Value, content_type: Option<&str>) -> Result<(String, Vec<u8>), ApiError> {
    let Some(ct) = content_type else {
        return Ok((JSON.to_string(), pretty(body).into_bytes()));
    };
    let media = MediaType::parse(ct).ok_or_else(|| ApiError::bad_request(UNKNOWN_CONTENT_TYPE))?;
    if media.is("application", "json") {
        Ok((JSON.to_string(), pretty(body).into_bytes()))
    } else if media.is_json_family() {
        let ct = format!("{}/{}; charset=UTF-8", media.main, media.sub);
        Ok((ct, pretty(body).into_bytes()))
    } else {
        Err(ApiError::bad_request(CONTENT_TYPE_MISMATCH))
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn invalid_media(media: &str) -> ApiError {
    ApiError::bad_request(format!("Response is not valid '{media}'."))
}

fn property_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, PROPERTY_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(ext: Extension, result: Value) -> Reply {
        project(ext, Outcome::Success, &result).unwrap()
    }

    fn err(ext: Extension, result: Value) -> (StatusCode, String) {
        let e = project(ext, Outcome::Success, &result).unwrap_err();
        (e.status, e.message)
    }

    fn body(reply: &Reply) -> &str {
        std::str::from_utf8(&reply.body).unwrap()
    }

    #[test]
    fn json_needs_an_object_or_array() {
        let reply = ok(Extension::Json, json!({"a": 1}));
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            serde_json::from_slice::<Value>(&reply.body).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            err(Extension::Json, json!("x")),
            (
                StatusCode::BAD_REQUEST,
                "Response is not valid 'application/json'.".into()
            )
        );
    }

    #[test]
    fn html_svg_and_text_pick_their_field() {
        let html = ok(Extension::Html, json!({"html": "<p>hi</p>"}));
        assert_eq!(
            (html.content_type.as_deref(), body(&html)),
            (Some(HTML), "<p>hi</p>")
        );
        let preferred = ok(Extension::Html, json!({"body": "b", "html": "h"}));
        assert_eq!(body(&preferred), "b");
        assert_eq!(
            err(Extension::Html, json!({"html": 1})).1,
            "Response is not valid 'text/html'."
        );
        let svg = ok(Extension::Svg, json!({"svg": "<svg/>"}));
        assert_eq!(svg.content_type.as_deref(), Some("image/svg+xml"));
        assert_eq!(body(&ok(Extension::Text, json!({"text": 42}))), "42");
        assert_eq!(
            body(&ok(Extension::Text, json!({"body": {"a": 1}}))),
            "{\n  \"a\": 1\n}"
        );
        assert_eq!(
            err(Extension::Text, json!({"other": 1})),
            (StatusCode::NOT_FOUND, PROPERTY_NOT_FOUND.into())
        );
    }

    #[test]
    fn application_errors_project_their_error_value() {
        let reply = project(
            Extension::Json,
            Outcome::ApplicationError,
            &json!({"error": {"why": "x"}}),
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&reply.unwrap().body).unwrap(),
            json!({"why": "x"})
        );
        for outcome in [Outcome::DeveloperError, Outcome::InternalError] {
            let e = project(Extension::Http, outcome, &json!({"error": "boom"})).unwrap_err();
            assert_eq!(
                (e.status, e.message.as_str()),
                (StatusCode::BAD_REQUEST, ERROR_PROCESSING)
            );
        }
    }

    #[test]
    fn http_status_headers_and_defaults() {
        let reply = ok(
            Extension::Http,
            json!({"statusCode": "201", "headers": {"Set-Cookie": ["a=1", "b=2"], "X-N": 3, "Content-Type": "text/plain"}, "body": "made"}),
        );
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(
            reply.content_type.as_deref(),
            Some("text/plain; charset=UTF-8")
        );
        let headers: Vec<(String, String)> = reply
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            headers,
            [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-n", "3")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let html = ok(Extension::Http, json!({"body": "<b>x</b>"}));
        assert_eq!(
            (html.status, html.content_type.as_deref()),
            (StatusCode::OK, Some("text/html; charset=UTF-8"))
        );
        let empty = ok(Extension::Http, json!({"headers": {"location": "/x"}}));
        assert_eq!(
            (empty.status, empty.content_type, empty.body.len()),
            (StatusCode::NO_CONTENT, None, 0)
        );
        assert_eq!(
            ok(Extension::Http, json!({"statusCode": 302, "body": ""})).status,
            StatusCode::FOUND
        );
    }

    #[test]
    fn http_bodies_by_content_type() {
        let png = ok(
            Extension::Http,
            json!({"headers": {"content-type": "image/png"}, "body": "iVBORw=="}),
        );
        assert_eq!(png.body, [0x89, b'P', b'N', b'G']);
        let json = ok(Extension::Http, json!({"body": {"a": [1]}}));
        assert_eq!(json.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            serde_json::from_slice::<Value>(&json.body).unwrap(),
            json!({"a": [1]})
        );
        let b64json = ok(
            Extension::Http,
            json!({"headers": {"content-type": "application/json"}, "body": "eyJhIjoxfQ=="}),
        );
        assert_eq!(body(&b64json), r#"{"a":1}"#);
        assert_eq!(
            err(
                Extension::Http,
                json!({"headers": {"content-type": "text/plain"}, "body": {"a": 1}})
            )
            .1,
            CONTENT_TYPE_MISMATCH
        );
        assert_eq!(
            err(
                Extension::Http,
                json!({"headers": {"content-type": "nonsense"}, "body": "x"})
            )
            .1,
            UNKNOWN_CONTENT_TYPE
        );
        assert_eq!(
            err(
                Extension::Http,
                json!({"headers": {"content-type": "image/png"}, "body": "not base64!"})
            )
            .1,
            CONTENT_TYPE_MISMATCH
        );
    }

    #[test]
    fn http_shape_errors() {
        for bad in [
            json!("text"),
            json!({"headers": "x"}),
            json!({"headers": {"a": {"b": 1}}}),
            json!({"statusCode": 1.5}),
            json!({"statusCode": "abc"}),
            json!({"statusCode": 99}),
        ] {
            assert_eq!(
                err(Extension::Http, bad.clone()).1,
                "Response is not valid 'message/http'.",
                "{bad}"
            );
        }
    }
}
