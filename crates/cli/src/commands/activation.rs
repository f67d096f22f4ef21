//! `wisp activation ...`: list, get, logs and result here; poll in `poll`, the tree of a
//! composition's activations in `tree`.

use reqwest::Method;
use serde_json::Value;
use wisp_wire::{Activation, ActivationLogs, ActivationResponse};

use super::{poll, tree};
use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::error::usage;
use crate::names::{encode_segment, QualifiedName};
use crate::output::{self, cell, document, or_dash, Printer};
use crate::time::format_millis;

#[derive(clap::Args, Debug)]
pub struct ActivationArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: ActivationCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ActivationCommand {
    /// List activations, newest first
    List(ListArgs),
    /// Show an activation record (--tree: a composition's activations)
    Get(GetArgs),
    /// Show an activation's logs
    Logs(LogsArgs),
    /// Show an activation's result
    Result(WhichArgs),
    /// Print activations and their logs as they happen
    Poll(poll::PollArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only activations of this action (NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME)
    pub name: Option<String>,

    /// How many to show (the server's default is 30, at most 200)
    #[arg(short = 'l', long, value_name = "N")]
    pub limit: Option<u32>,

    /// How many of the newest to skip
    #[arg(short = 's', long, value_name = "N")]
    pub skip: Option<u32>,

    /// Only activations that started at or after this time, in epoch milliseconds
    #[arg(long, value_name = "MS")]
    pub since: Option<i64>,

    /// Only activations that started at or before this time, in epoch milliseconds
    #[arg(long, value_name = "MS")]
    pub upto: Option<i64>,

    /// Fetch full activation records (with --json, print them whole)
    #[arg(short = 'f', long)]
    pub full: bool,
}

#[derive(clap::Args, Debug)]
pub struct WhichArgs {
    /// Activation id
    #[arg(required_unless_present = "last")]
    pub id: Option<String>,

    /// Use the most recent activation
    #[arg(short = 'l', long, conflicts_with = "id")]
    pub last: bool,
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub which: WhichArgs,

    /// Show the activation and, for a sequence or conductor action, the activations it ran, in
    /// order and nested (with --json: their records in that order)
    #[arg(long)]
    pub tree: bool,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub which: WhichArgs,

    /// Leave out the timestamp and stream at the start of each line
    #[arg(short = 'r', long)]
    pub strip: bool,
}

pub async fn run(
    command: ActivationCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        ActivationCommand::List(args) => list(&args, config, printer).await,
        ActivationCommand::Get(args) => {
            let client = Client::new(config)?;
            let id = resolve_id(&args.which, &client, config).await?;
            let record = client.get(&activation_path(config, &id, ""), &[]).await?;
            if !args.tree {
                return printer.json(&record);
            }
            let root = tree::Record::new(record);
            let records = tree::collect(&root, async |id| find(&client, config, id).await).await?;
            let entries = tree::walk(&root, &records);
            if config.json {
                let found = entries
                    .iter()
                    .filter_map(|e| e.record.map(|r| r.json.clone()));
                printer.json(&Value::Array(found.collect()))
            } else {
                printer.text(&tree::render(&entries))
            }
        }
        ActivationCommand::Logs(args) => {
            let client = Client::new(config)?;
            let id = resolve_id(&args.which, &client, config).await?;
            let body = client
                .get(&activation_path(config, &id, "/logs"), &[])
                .await?;
            if config.json {
                return printer.json(&body);
            }
            for line in &document::<ActivationLogs>(&body).logs {
                printer.line(if args.strip { strip_prefix(line) } else { line })?;
            }
            Ok(())
        }
        ActivationCommand::Result(which) => {
            let client = Client::new(config)?;
            let id = resolve_id(&which, &client, config).await?;
            let response = client
                .get(&activation_path(config, &id, "/result"), &[])
                .await?;
            if config.json {
                return printer.json(&response);
            }
            printer.json(&document::<ActivationResponse>(&response).result)
        }
        ActivationCommand::Poll(args) => poll::run(&args, config, printer).await,
    }
}

fn activation_path(config: &Config, id: &str, suffix: &str) -> String {
    format!(
        "namespaces/{}/activations/{}{suffix}",
        encode_segment(&config.namespace),
        encode_segment(id)
    )
}

/// One activation record; `None` when the server has none under `id` (yet).
async fn find(client: &Client, config: &Config, id: &str) -> anyhow::Result<Option<Value>> {
    let path = activation_path(config, id, "");
    let reply = client.send(Method::GET, &path, &[], None).await?;
    if reply.status == 404 {
        return Ok(None);
    }
    reply.into_result().map(Some)
}

fn collection_path(namespace: &str) -> String {
    format!("namespaces/{}/activations", encode_segment(namespace))
}

/// The query and namespace for activations of one action (or of all when `name` is `None`).
pub fn name_filter(
    name: Option<&str>,
    config: &Config,
) -> anyhow::Result<(String, Vec<(&'static str, String)>)> {
    match name {
        Some(raw) => {
            let name = QualifiedName::parse(raw, &config.namespace)?;
            Ok((name.namespace.clone(), vec![("name", name.relative())]))
        }
        None => Ok((config.namespace.clone(), vec![])),
    }
}

async fn list(args: &ListArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let (namespace, mut query) = name_filter(args.name.as_deref(), config)?;
    let optional = [
        ("limit", args.limit.map(i64::from)),
        ("skip", args.skip.map(i64::from)),
        ("since", args.since),
        ("upto", args.upto),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            query.push((key, value.to_string()));
        }
    }
    if args.full {
        query.push(("docs", "true".into()));
    }
    let client = Client::new(config)?;
    let list = client.get(&collection_path(&namespace), &query).await?;
    if config.json {
        printer.json(&list)
    } else {
        printer.text(&activation_table(&list))
    }
}

async fn resolve_id(which: &WhichArgs, client: &Client, config: &Config) -> anyhow::Result<String> {
    if let Some(id) = &which.id {
        return Ok(id.clone());
    }
    if !which.last {
        return Err(usage("give an activation id or --last"));
    }
    let query = [("limit", "1".to_string())];
    let list = client
        .get(&collection_path(&config.namespace), &query)
        .await?;
    output::documents::<Activation>(&list)
        .into_iter()
        .map(|a| a.activation_id)
        .find(|id| !id.is_empty())
        .ok_or_else(|| anyhow::anyhow!("there are no activations yet"))
}

pub fn activation_table(list: &Value) -> String {
    let rows: Vec<Vec<String>> = output::documents::<Activation>(list)
        .iter()
        .map(activation_row)
        .collect();
    let header = [
        "Datetime",
        "Activation ID",
        "Kind",
        "Start",
        "Duration",
        "Status",
        "Entity",
    ];
    output::table(&header, &rows)
}

/// One table row from a list summary or a full record (`docs=true`).
pub fn activation_row(activation: &Activation) -> Vec<String> {
    vec![
        format_millis(activation.start as i64),
        or_dash(&activation.activation_id),
        cell(activation.annotation("kind")),
        start_kind(activation).into(),
        duration(activation),
        status(activation).into(),
        entity(activation),
    ]
}

/// Cold when the runtime had to be initialised (`initTime`), warm when the record says how it
/// ran but without init, unknown when the server sent no annotations or the record is a
/// composition's (which ran no code itself).
fn start_kind(activation: &Activation) -> &'static str {
    if activation.annotation("kind") == Some(&Value::from("sequence")) {
        "-"
    } else if activation.annotation("initTime").is_some() {
        "cold"
    } else if !activation.annotations.is_empty() {
        "warm"
    } else {
        "-"
    }
}

/// The outcome, from a summary's `statusCode` or a record's `response.status`.
pub fn status(activation: &Activation) -> &'static str {
    let code = activation.status_code;
    let text = activation.response.as_ref().map(|r| r.status.as_str());
    match (code, text) {
        (Some(0), _) | (_, Some("success")) => "success",
        (Some(1), _) | (_, Some("application error")) => "application error",
        (Some(2), _) | (_, Some("action developer error")) => "developer error",
        (Some(3), _) | (_, Some("whisk internal error")) => "internal error",
        _ => "-",
    }
}

pub fn duration(activation: &Activation) -> String {
    activation
        .duration
        .map(|ms| format!("{ms}ms"))
        .unwrap_or_else(|| "-".into())
}

/// The action that ran (`ns/pkg/action`) when the record says so, else `namespace/name`.
pub fn path(activation: &Activation) -> String {
    activation
        .annotation("path")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/{}", activation.namespace, activation.name))
}

/// `path:version`.
fn entity(activation: &Activation) -> String {
    let path = path(activation);
    match activation.version.as_str() {
        "" => path,
        version => format!("{path}:{version}"),
    }
}

/// Drops `<timestamp> <stream>: ` from a log line; other lines are left alone.
pub fn strip_prefix(line: &str) -> &str {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return line;
    };
    if !stamp.starts_with(|c: char| c.is_ascii_digit()) || !stamp.contains('T') {
        return line;
    }
    let rest = rest.trim_start_matches(' ');
    for stream in ["stdout:", "stderr:"] {
        if let Some(text) = rest.strip_prefix(stream) {
            return text.strip_prefix(' ').unwrap_or(text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_from_summaries_and_full_records() {
        let summary = json!({
            "activationId": "8690bc9904794c9290bc9904794c925e", "name": "hello",
            "namespace": "guest", "version": "0.0.1", "start": 1712345678901_i64,
            "duration": 12, "statusCode": 0,
            "annotations": [{"key": "path", "value": "guest/pkg/hello"},
                            {"key": "kind", "value": "nodejs:20"},
                            {"key": "initTime", "value": 40}]
        });
        let full = json!({
            "activationId": "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", "name": "hello",
            "namespace": "guest", "version": "0.0.2", "start": 1712345679000_i64,
            "duration": 3, "response": {"status": "action developer error", "success": false},
            "annotations": [{"key": "kind", "value": "nodejs:20"}, {"key": "waitTime", "value": 1}]
        });
        let trigger = json!({"activationId": "a", "name": "t", "namespace": "guest",
                             "version": "0.0.1", "start": 0, "statusCode": 0});
        let sequence = json!({"activationId": "s", "name": "seq", "namespace": "guest",
                              "version": "0.0.1", "start": 0, "duration": 15, "statusCode": 0,
                              "annotations": [{"key": "kind", "value": "sequence"},
                                              {"key": "conductor", "value": true}]});
        assert_eq!(
            activation_table(&json!([summary, full, trigger, sequence])),
            "Datetime             Activation ID                     Kind       Start  Duration  Status           Entity\n\
             2024-04-05 19:34:38  8690bc9904794c9290bc9904794c925e  nodejs:20  cold   12ms      success          guest/pkg/hello:0.0.1\n\
             2024-04-05 19:34:39  f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0  nodejs:20  warm   3ms       developer error  guest/hello:0.0.2\n\
             1970-01-01 00:00:00  a                                 -          -      -         success          guest/t:0.0.1\n\
             1970-01-01 00:00:00  s                                 sequence   -      15ms      success          guest/seq:0.0.1\n"
        );
    }

    #[test]
    fn strip_removes_timestamp_and_stream() {
        let padded = format!("{:<30} stdout: hello  world", "2024-03-01T10:20:30.123Z");
        assert_eq!(strip_prefix(&padded), "hello  world");
        assert_eq!(
            strip_prefix("2024-03-01T10:20:30.123456789Z stderr: oops"),
            "oops"
        );
        assert_eq!(strip_prefix("2024-03-01T10:20:30.123456789Z stdout:"), "");
        let plain =
            "Logs were truncated because the total bytes size exceeds the limit of 10 bytes.";
        assert_eq!(strip_prefix(plain), plain);
        assert_eq!(strip_prefix("no-spaces"), "no-spaces");
    }
}
