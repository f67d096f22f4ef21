//! `wisp action invoke`: one POST, and what each of its answers means to the user.

use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{Accepted, Activation};

use crate::client::{ApiError, Client, Reply};
use crate::config::Config;
use crate::names::QualifiedName;
use crate::output::{document, pretty, Printer};
use crate::params::ParamFlags;

#[derive(clap::Args, Debug)]
pub struct InvokeArgs {
    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub name: String,

    #[command(flatten)]
    pub params: ParamFlags,

    /// Wait for the activation to finish and print its record
    #[arg(short = 'b', long)]
    pub blocking: bool,

    /// Wait for the activation to finish and print only its result
    #[arg(short = 'r', long)]
    pub result: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Return as soon as the activation is accepted.
    Async,
    /// Wait and show the activation record.
    Blocking,
    /// Wait and show only the result.
    Result,
}

impl Mode {
    fn of(args: &InvokeArgs) -> Self {
        if args.result {
            Mode::Result
        } else if args.blocking {
            Mode::Blocking
        } else {
            Mode::Async
        }
    }
}

/// What to print for one invoke answer, decided without doing any IO.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    /// Set when the activation failed: the message `run` prints as the error (exit 1).
    pub failure: Option<String>,
}

pub async fn run(args: &InvokeArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let name = QualifiedName::parse(&args.name, &config.namespace)?;
    let body = args.params.values()?.to_object();
    let mode = Mode::of(args);
    let query = [
        ("blocking", (mode != Mode::Async).to_string()),
        ("result", (mode == Mode::Result).to_string()),
    ];
    let client = Client::new(config)?;
    let reply = client
        .send(Method::POST, &name.path("actions"), &query, Some(&body))
        .await?;
    let rendered = render(&reply, mode, &name, config.json)?;
    for text in &rendered.stdout {
        printer.line(text)?;
    }
    for text in &rendered.stderr {
        printer.note(text)?;
    }
    match rendered.failure {
        Some(message) => Err(anyhow::anyhow!(message)),
        None => Ok(()),
    }
}

pub fn render(
    reply: &Reply,
    mode: Mode,
    name: &QualifiedName,
    json: bool,
) -> anyhow::Result<Rendered> {
    let id = activation_id(reply);
    let id_text = id.clone().unwrap_or_else(|| "unknown".into());
    let mut out = Rendered::default();
    if reply.status == 202 {
        // Accepted: either asked not to wait, or the wait ran out while it keeps running.
        out.stdout.push(if json {
            pretty(&if reply.body.is_null() {
                json!({ "activationId": id })
            } else {
                reply.body.clone()
            })
        } else {
            format!("ok: invoked {name} with id {id_text}")
        });
        if mode != Mode::Async {
            out.stderr.push(format!(
                "the activation is still running; see it later with 'wisp activation get {id_text}'"
            ));
        }
    } else if reply.is_success() {
        if mode == Mode::Blocking && !json {
            out.stdout
                .push(format!("ok: invoked {name} with id {id_text}"));
        }
        out.stdout.push(pretty(&reply.body));
    } else if is_failed_activation(reply) {
        // The function failed but the invoke worked: show what it returned, then fail.
        out.stdout.push(pretty(&reply.body));
        out.failure = Some(failure_message(&reply.body, id.as_deref(), name));
    } else {
        return Err(ApiError::from_reply(reply).into());
    }
    Ok(out)
}

/// The activation's id: the header, else the body's (an `Accepted` and a whole record both
/// carry `activationId`).
pub(super) fn activation_id(reply: &Reply) -> Option<String> {
    reply.activation_id.clone().or_else(|| {
        let accepted: Accepted = document(&reply.body);
        Some(accepted.activation_id).filter(|id| !id.is_empty())
    })
}

/// 502 (application or developer error) and 500 with an activation (whisk error) carry the
/// activation record or the failed result rather than an error object.
pub(super) fn is_failed_activation(reply: &Reply) -> bool {
    let structured = reply.body.is_object() || reply.body.is_array();
    match reply.status {
        502 => structured,
        500 => {
            let record: Activation = document(&reply.body);
            structured
                && (reply.activation_id.is_some()
                    || !record.activation_id.is_empty()
                    || record.response.is_some())
        }
        _ => false,
    }
}

/// What failed and why: from the record's response, or from the result alone (a blocking
/// invoke with `result=true` answers only the result).
pub(super) fn failure_message(body: &Value, id: Option<&str>, name: &QualifiedName) -> String {
    let subject = match id {
        Some(id) => format!("activation {id} of {name} failed"),
        None => format!("{name} failed"),
    };
    let response = document::<Activation>(body).response;
    let (status, result) = match &response {
        Some(response) => {
            let status = Some(response.status.as_str()).filter(|s| !s.is_empty());
            (status, &response.result)
        }
        None => (None, body),
    };
    // The result is the function's own: `error` is OpenWhisk's convention, not a field of ours.
    let error = result.get("error").and_then(Value::as_str);
    match (status, error) {
        (Some(status), Some(error)) => format!("{subject}: {status}: {error}"),
        (Some(status), None) => format!("{subject}: {status}"),
        (None, Some(error)) => format!("{subject}: {error}"),
        (None, None) => subject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "44794bd6aab74415b4e42a308d880e5b";

    fn name() -> QualifiedName {
        QualifiedName::parse("hello", "_").unwrap()
    }

    fn reply(status: u16, body: Value) -> Reply {
        Reply {
            status,
            activation_id: Some(ID.into()),
            body,
        }
    }

    fn record(status: &str, result: Value) -> Value {
        json!({"activationId": ID, "name": "hello",
               "response": {"status": status, "success": status == "success", "result": result}})
    }

    #[test]
    fn non_blocking() {
        let r = reply(202, json!({"activationId": ID}));
        let out = render(&r, Mode::Async, &name(), false).unwrap();
        assert_eq!(out.stdout, [format!("ok: invoked /_/hello with id {ID}")]);
        assert!(out.stderr.is_empty() && out.failure.is_none());
        let out = render(&r, Mode::Async, &name(), true).unwrap();
        assert_eq!(
            out.stdout,
            [format!("{{\n  \"activationId\": \"{ID}\"\n}}")]
        );
    }

    #[test]
    fn blocking_success_prints_the_ok_line_then_the_record() {
        let body = record("success", json!({"payload": "hi"}));
        let out = render(&reply(200, body.clone()), Mode::Blocking, &name(), false).unwrap();
        assert_eq!(
            out.stdout,
            [format!("ok: invoked /_/hello with id {ID}"), pretty(&body)]
        );
        let out = render(&reply(200, body.clone()), Mode::Blocking, &name(), true).unwrap();
        assert_eq!(out.stdout, [pretty(&body)]);
    }

    #[test]
    fn result_mode_prints_the_result_only() {
        let out = render(
            &reply(200, json!({"payload": "hi"})),
            Mode::Result,
            &name(),
            false,
        )
        .unwrap();
        assert_eq!(out.stdout, ["{\n  \"payload\": \"hi\"\n}"]);
        let out = render(&reply(200, json!([1, 2])), Mode::Result, &name(), false).unwrap();
        assert_eq!(out.stdout, [pretty(&json!([1, 2]))]);
    }

    #[test]
    fn function_errors_print_the_answer_and_fail() {
        let body = record("application error", json!({"error": "no name"}));
        let out = render(&reply(502, body.clone()), Mode::Blocking, &name(), false).unwrap();
        assert_eq!(out.stdout, [pretty(&body)]);
        assert_eq!(
            out.failure.as_deref(),
            Some(
                format!("activation {ID} of /_/hello failed: application error: no name").as_str()
            )
        );
        let out = render(
            &reply(502, json!({"error": "no name"})),
            Mode::Result,
            &name(),
            false,
        )
        .unwrap();
        assert_eq!(out.stdout, [pretty(&json!({"error": "no name"}))]);
        assert_eq!(
            out.failure.as_deref(),
            Some(format!("activation {ID} of /_/hello failed: no name").as_str())
        );
    }

    #[test]
    fn whisk_errors_with_a_record_are_failed_activations() {
        let body = record("whisk internal error", json!({"error": "lost"}));
        let out = render(&reply(500, body), Mode::Blocking, &name(), false).unwrap();
        assert!(out.failure.unwrap().contains("whisk internal error: lost"));
    }

    #[test]
    fn plain_server_errors_are_api_errors() {
        let mut r = reply(500, json!({"error": "boom", "code": "tx1"}));
        r.activation_id = None;
        let err = render(&r, Mode::Blocking, &name(), false).unwrap_err();
        assert_eq!(err.to_string(), "boom (code tx1)");
        let r = reply(
            404,
            json!({"error": "The requested resource does not exist.", "code": "tx2"}),
        );
        assert!(render(&r, Mode::Async, &name(), false).is_err());
        let r = reply(502, json!("<html>bad gateway</html>"));
        assert!(render(&r, Mode::Blocking, &name(), false).is_err());
    }

    #[test]
    fn blocking_timeout_gives_the_id_and_a_hint() {
        let r = reply(202, json!({"activationId": ID}));
        for mode in [Mode::Blocking, Mode::Result] {
            let out = render(&r, mode, &name(), false).unwrap();
            assert_eq!(out.stdout, [format!("ok: invoked /_/hello with id {ID}")]);
            assert_eq!(
                out.stderr,
                [format!(
                    "the activation is still running; see it later with 'wisp activation get {ID}'"
                )]
            );
            assert!(out.failure.is_none());
        }
    }
}
