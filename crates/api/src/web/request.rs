//! The arguments of a web action: request context (`__ow_*`) plus query and body.

use base64::Engine;
use serde_json::{Map, Value};

use super::media::MediaType;
use crate::ApiError;

/// Refused when a request names a reserved or (with `final`) an already-defined parameter.
pub const NOT_ALLOWED: &str =
    "Request defines parameters that are not allowed (e.g., reserved properties).";

/// What of an HTTP request reaches the action.
#[derive(Debug, Clone, Default)]
pub struct WebRequest<'a> {
    /// Lower-case method, e.g. `"get"`.
    pub method: String,
    /// Header names lower-cased; a repeated header keeps its last value.
    pub headers: Map<String, Value>,
    /// `__ow_path`: the path after the action segment.
    pub path: &'a str,
    /// The raw query string, `""` when there is none.
    pub query: &'a str,
    /// The request's content type (`application/octet-stream` for a body without one).
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// The namespace of a caller that sent valid credentials.
    pub user: Option<&'a str>,
}

/// The arguments for the action. A raw-HTTP action gets the query and body unparsed in
/// `__ow_query` and `__ow_body`; any other gets query and form/JSON-object fields as
/// parameters (body over query) and other bodies in `__ow_body`.
pub fn arguments(req: &WebRequest, raw: bool) -> Result<Map<String, Value>, ApiError> {
    let mut args = Map::new();
    args.insert("__ow_method".into(), Value::from(req.method.as_str()));
    args.insert("__ow_headers".into(), Value::Object(req.headers.clone()));
    args.insert("__ow_path".into(), Value::from(req.path));
    if let Some(user) = req.user {
        args.insert("__ow_user".into(), Value::from(user));
    }
    let body = body(req, raw)?;
    if raw {
        args.insert("__ow_query".into(), Value::from(req.query));
        args.insert("__ow_body".into(), body.unwrap_or_else(|| Value::from("")));
        return Ok(args);
    }
    let mut fields = Map::new();
    for (key, value) in form_urlencoded::parse(req.query.as_bytes()) {
        fields.insert(key.into_owned(), Value::from(value.into_owned()));
    }
    match body {
        Some(Value::Object(object)) => fields.extend(object),
        Some(other) => {
            args.insert("__ow_body".into(), other);
        }
        None => {}
    }
    if fields.keys().any(|k| k.starts_with("__ow_")) {
        return Err(ApiError::bad_request(NOT_ALLOWED));
    }
    args.extend(fields);
    Ok(args)
}

/// The body as the action sees it: `None` when there is none; JSON (non-raw) parsed; a form
/// (non-raw) as an object of strings; binary types and `application/json` (raw) as base64;
/// other text as a string.
fn body(req: &WebRequest, raw: bool) -> Result<Option<Value>, ApiError> {
    if req.body.is_empty() {
        return Ok(None);
    }
    let media = req
        .content_type
        .and_then(MediaType::parse)
        .unwrap_or(MediaType {
            main: "application".into(),
            sub: "octet-stream".into(),
            has_charset: false,
        });
    if !raw && media.is_json_family() {
        return serde_json::from_slice(req.body).map(Some).map_err(|e| {
            ApiError::bad_request(format!("The request content was malformed:\n{e}"))
        });
    }
    if !raw && media.is_form() {
        let form = form_urlencoded::parse(req.body)
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
        return Ok(Some(Value::Object(form)));
    }
    if media.is_binary() || media.is("application", "json") {
        let encoded = base64::engine::general_purpose::STANDARD.encode(req.body);
        return Ok(Some(Value::from(encoded)));
    }
    Ok(Some(Value::from(String::from_utf8_lossy(req.body))))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request<'a>(content_type: Option<&'a str>, body: &'a [u8]) -> WebRequest<'a> {
        WebRequest {
            method: "post".into(),
            path: "/x",
            query: "a=1&b=two+words",
            content_type,
            body,
            ..WebRequest::default()
        }
    }

    fn without_context(mut args: Map<String, Value>) -> Value {
        for key in ["__ow_method", "__ow_headers", "__ow_path"] {
            assert!(args.remove(key).is_some(), "{key} is always given");
        }
        Value::Object(args)
    }

    #[test]
    fn context_fields() {
        let mut req = request(None, b"");
        req.headers.insert("accept".into(), json!("*/*"));
        req.user = Some("guest");
        let args = arguments(&req, false).unwrap();
        assert_eq!(args["__ow_method"], "post");
        assert_eq!(args["__ow_headers"], json!({"accept": "*/*"}));
        assert_eq!(args["__ow_path"], "/x");
        assert_eq!(args["__ow_user"], "guest");
        assert_eq!(args["a"], "1");
        assert_eq!(args["b"], "two words");
        assert!(!args.contains_key("__ow_body"));
    }

    #[test]
    fn json_objects_and_forms_become_parameters_over_the_query() {
        let args = arguments(
            &request(Some("application/json"), br#"{"a":2,"c":[1]}"#),
            false,
        );
        assert_eq!(
            without_context(args.unwrap()),
            json!({"a": 2, "b": "two words", "c": [1]})
        );
        let form = arguments(
            &request(Some("application/x-www-form-urlencoded"), b"a=3&d=x%20y"),
            false,
        );
        assert_eq!(
            without_context(form.unwrap()),
            json!({"a": "3", "b": "two words", "d": "x y"})
        );
    }

    #[test]
    fn other_bodies_go_to_ow_body() {
        let body =
            |ct, bytes: &[u8]| arguments(&request(ct, bytes), false).unwrap()["__ow_body"].clone();
        assert_eq!(body(Some("application/json"), b"[1,2]"), json!([1, 2]));
        assert_eq!(body(Some("text/plain"), b"hi"), json!("hi"));
        assert_eq!(body(Some("image/png"), &[0x89, 0x50]), json!("iVA="));
        assert_eq!(body(None, &[1, 2, 3]), json!("AQID"));
    }

    #[test]
    fn raw_actions_get_query_and_body_unparsed() {
        let raw = |ct, bytes: &[u8]| without_context(arguments(&request(ct, bytes), true).unwrap());
        assert_eq!(
            raw(Some("application/json"), br#"{"a":1}"#),
            json!({"__ow_query": "a=1&b=two+words", "__ow_body": "eyJhIjoxfQ=="})
        );
        assert_eq!(
            raw(Some("application/x-www-form-urlencoded"), b"a=3"),
            json!({"__ow_query": "a=1&b=two+words", "__ow_body": "a=3"})
        );
        assert_eq!(
            raw(None, b""),
            json!({"__ow_query": "a=1&b=two+words", "__ow_body": ""})
        );
    }

    #[test]
    fn reserved_names_and_bad_json_are_refused() {
        let mut req = request(None, b"");
        req.query = "__ow_user=admin";
        assert_eq!(arguments(&req, false).unwrap_err().message, NOT_ALLOWED);
        let err = arguments(
            &request(Some("application/json"), br#"{"__ow_method":"x"}"#),
            false,
        );
        assert_eq!(err.unwrap_err().message, NOT_ALLOWED);
        let err = arguments(&request(Some("application/json"), b"{nope"), false).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err
            .message
            .starts_with("The request content was malformed:"));
        // Raw actions see the query unparsed, so nothing in it can collide.
        assert!(arguments(&req, true).is_ok());
    }
}
