//! The one place that talks HTTP to the server: builds requests under `/api/v1`, authenticates
//! them, and turns error bodies (`{"error": ..., "code": ...}`) into errors carrying the server's
//! message.

use std::fmt;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

use crate::config::Config;

/// How long to wait for a TCP connection before saying the server is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for one request; a blocking invoke waits at most 60 s on the server side, so this
/// only catches a server that hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Client {
    http: reqwest::Client,
    /// `http://host:port`, as shown in messages.
    apihost: String,
    credentials: Option<(String, String)>,
}

/// A response whatever its status, for callers that give some error statuses a meaning
/// (an invoke answering 502 still carries the activation).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// The `x-openwhisk-activation-id` header, present on invoke responses.
    pub activation_id: Option<String>,
    /// The body as JSON; `Null` when empty, a JSON string when it is not JSON.
    pub body: Value,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body of a successful reply, or the server's error.
    pub fn into_result(self) -> anyhow::Result<Value> {
        if self.status >= 400 {
            Err(ApiError::from_reply(&self).into())
        } else {
            Ok(self.body)
        }
    }
}

/// The server refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// The transaction id the server logged the failure under.
    pub code: Option<String>,
}

impl ApiError {
    pub fn from_reply(reply: &Reply) -> Self {
        let field = |key| reply.body.get(key).filter(|v| !v.is_null());
        let message = match field("error") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => {
                let reason = reqwest::StatusCode::from_u16(reply.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let mut text = format!("the server answered {} {reason}", reply.status);
                let body = match &reply.body {
                    Value::Null => String::new(),
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                if !body.is_empty() {
                    text = format!("{}: {}", text.trim_end(), snippet(&body));
                }
                text
            }
        };
        let code = field("code").map(|code| match code {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        Self {
            status: reply.status,
            message,
            code,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} (code {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ApiError {}

fn snippet(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The body of a plain GET of `url` (no credentials): a server's metrics endpoint.
pub async fn fetch_text(url: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot set up the HTTP client")?;
    let response =
        http.get(url).send().await.with_context(|| {
            format!("cannot reach {url} (is the server's --metrics-listen there?)")
        })?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(response.text().await?)
}

impl Client {
    /// A client for the namespace routes, which need credentials.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let credentials = config.credentials()?;
        Self::build(config.base_url()?, Some(credentials))
    }

    /// A client for the routes that need no credentials (`GET /api/v1`); sends them if known.
    pub fn public(config: &Config) -> anyhow::Result<Self> {
        Self::build(config.base_url()?, config.credentials().ok())
    }

    fn build(apihost: String, credentials: Option<(String, String)>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("wisp-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            http,
            apihost,
            credentials,
        })
    }

    /// Sends a request to `/api/v1/{path}` and returns the reply whatever its status.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut request = self.request(method, path, query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        self.reply(response).await
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let url = if path.is_empty() {
            format!("{}/api/v1", self.apihost)
        } else {
            format!("{}/api/v1/{path}", self.apihost)
        };
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some((user, key)) = &self.credentials {
            request = request.basic_auth(user, Some(key));
        }
        request
    }

    /// PUTs a body of `length` bytes (a file streamed from disk, or bytes in memory: an
    /// object upload); the JSON answer.
    pub async fn upload(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: impl Into<reqwest::Body>,
        length: u64,
        content_type: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .request(Method::PUT, path, query)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        self.reply(response).await?.into_result()
    }

    /// GETs a body chunk by chunk into `sink` (an object download); the bytes received.
    /// An error status is read whole and returned as the server's error.
    pub async fn download(
        &self,
        path: &str,
        query: &[(&str, String)],
        mut sink: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut response = self
            .request(Method::GET, path, query)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        if !response.status().is_success() {
            return Err(self.reply(response).await?.into_result().unwrap_err());
        }
        let mut received = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            received += chunk.len() as u64;
            sink(&chunk)?;
        }
        Ok(received)
    }

    async fn reply(&self, response: reqwest::Response) -> anyhow::Result<Reply> {
        let status = response.status().as_u16();
        let activation_id = response
            .headers()
            .get("x-openwhisk-activation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        Ok(Reply {
            status,
            activation_id,
            body: parse_body(&bytes),
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(Method::GET, path, query, None)
            .await?
            .into_result()
    }

    pub async fn put(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, query, Some(body))
            .await?
            .into_result()
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, &[], None)
            .await?
            .into_result()
    }

    fn transport_error(&self, err: reqwest::Error) -> anyhow::Error {
        let host = &self.apihost;
        if err.is_connect() {
            anyhow::anyhow!(
                "cannot reach the wisp server at {host} ({}); start one with 'wisp serve' \
                 or point to another with 'wisp property set --apihost URL'",
                root_cause(&err)
            )
        } else if err.is_timeout() {
            anyhow::anyhow!("the wisp server at {host} did not answer in time")
        } else {
            anyhow::anyhow!("request to {host} failed: {}", root_cause(&err))
        }
    }
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The innermost cause, which says what actually happened ("Connection refused").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status,
            activation_id: None,
            body,
        }
    }

    #[test]
    fn error_bodies_become_the_message_and_code() {
        let err = ApiError::from_reply(&reply(
            409,
            json!({"error": "resource already exists", "code": "abc123"}),
        ));
        assert_eq!(err.to_string(), "resource already exists (code abc123)");
        let old = ApiError::from_reply(&reply(404, json!({"error": "gone", "code": 4})));
        assert_eq!(old.to_string(), "gone (code 4)");
    }

    #[test]
    fn other_bodies_say_the_status() {
        let err = ApiError::from_reply(&reply(404, Value::Null));
        assert_eq!(err.to_string(), "the server answered 404 Not Found");
        let err = ApiError::from_reply(&reply(500, json!("oops\n")));
        assert_eq!(
            err.to_string(),
            "the server answered 500 Internal Server Error: oops"
        );
        let err = ApiError::from_reply(&reply(599, json!("x".repeat(300))));
        assert!(err.to_string().ends_with("..."));
    }

    #[test]
    fn bodies_parse_as_json_or_text() {
        assert_eq!(parse_body(b""), Value::Null);
        assert_eq!(parse_body(b" \n"), Value::Null);
        assert_eq!(parse_body(br#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(parse_body(b"pong"), json!("pong"));
    }

    #[test]
    fn into_result_passes_success_through() {
        assert_eq!(reply(200, json!([1])).into_result().unwrap(), json!([1]));
        assert!(reply(401, json!({"error": "no"})).into_result().is_err());
    }
}
