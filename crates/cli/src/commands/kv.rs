//! `wisp kv ...`: the namespace's key-value store (the one functions reach as Redis), through
//! `/namespaces/{ns}/kv`.

use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{KvEntry, KvFlushed, KvIncr, KvKeys, KvTtl};

use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::error;
use crate::names::encode_segment;
use crate::output::{cell, document, Printer};

#[derive(clap::Args, Debug)]
pub struct KvArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: KvCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum KvCommand {
    /// Print a key's value (lists, sets and hashes as JSON)
    Get { key: String },
    /// Set a key to a string value
    Set {
        key: String,
        value: String,
        /// Delete the key after this many seconds
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// Delete keys
    Del {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// List keys (sorted), all or those starting with PREFIX
    List {
        prefix: Option<String>,
        /// At most this many keys (1 to 10000)
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Delete a key after SECONDS
    Expire { key: String, seconds: u64 },
    /// Print the seconds a key has left, or `none` when it does not expire
    Ttl { key: String },
    /// Add to the integer in a key (a missing key counts as 0); print the new value
    Incr {
        key: String,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        by: i64,
    },
    /// Delete every key of the namespace
    Flush {
        /// Really delete them
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(command: KvCommand, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let client = Client::new(config)?;
    let kv = Kv { client, config };
    match command {
        KvCommand::Get { key } => {
            let entry = kv.client.get(&kv.key_path(&key), &[]).await?;
            if config.json {
                return printer.json(&entry);
            }
            match document::<KvEntry>(&entry).value {
                Value::String(text) => printer.line(text),
                other => printer.json(&other),
            }
        }
        KvCommand::Set { key, value, ttl } => {
            let mut body = json!({ "value": value });
            if let Some(ttl) = ttl {
                body["ttl"] = json!(ttl);
            }
            let answer = kv.client.put(&kv.key_path(&key), &[], &body).await?;
            kv.done(printer, &answer, format!("ok: set {key}"))
        }
        KvCommand::Del { keys } => {
            let mut deleted = 0;
            for key in &keys {
                let reply = kv
                    .client
                    .send(Method::DELETE, &kv.key_path(key), &[], None)
                    .await?;
                // A key that is not there is simply not counted, as Redis's DEL does.
                if reply.status != 404 {
                    reply.into_result()?;
                    deleted += 1;
                }
            }
            let message = format!("ok: deleted {deleted} of {} keys", keys.len());
            kv.done(printer, &json!({ "deleted": deleted }), message)
        }
        KvCommand::List { prefix, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(prefix) = prefix {
                query.push(("prefix", prefix));
            }
            let list = kv.client.get(&kv.path(), &query).await?;
            if config.json {
                return printer.json(&list);
            }
            let list = document::<KvKeys>(&list);
            for key in &list.keys {
                printer.line(cell(Some(key)))?;
            }
            if list.truncated {
                printer.note(format!(
                    "(the first {limit} keys; use --limit or a prefix for others)"
                ))?;
            }
            Ok(())
        }
        KvCommand::Expire { key, seconds } => {
            let query = [
                ("op", "expire".to_string()),
                ("seconds", seconds.to_string()),
            ];
            let answer = kv.post(&key, &query).await?;
            kv.done(
                printer,
                &answer,
                format!("ok: {key} expires in {seconds} seconds"),
            )
        }
        KvCommand::Ttl { key } => {
            let answer = kv
                .client
                .get(&kv.key_path(&key), &[("op", "ttl".to_string())])
                .await?;
            let ttl = match document::<KvTtl>(&answer).ttl {
                Some(seconds) => seconds.to_string(),
                None => "none".to_string(),
            };
            kv.done(printer, &answer, ttl)
        }
        KvCommand::Incr { key, by } => {
            let query = [("op", "incr".to_string()), ("by", by.to_string())];
            let answer = kv.post(&key, &query).await?;
            let value = document::<KvIncr>(&answer).value;
            kv.done(printer, &answer, value.to_string())
        }
        KvCommand::Flush { force } => {
            if !force {
                return Err(error::usage(
                    "this deletes every key in your namespace's key-value store; add --force to do it",
                ));
            }
            let answer = kv.client.delete(&kv.path()).await?;
            let deleted = document::<KvFlushed>(&answer).deleted;
            let message = format!("ok: deleted {deleted} keys");
            kv.done(printer, &answer, message)
        }
    }
}

struct Kv<'a> {
    client: Client,
    config: &'a Config,
}

impl Kv<'_> {
    fn path(&self) -> String {
        format!("namespaces/{}/kv", encode_segment(&self.config.namespace))
    }

    /// The key as one percent-encoded segment (`/` included), decoded whole by the server.
    fn key_path(&self, key: &str) -> String {
        format!("{}/{}", self.path(), encode_segment(key))
    }

    async fn post(&self, key: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.client
            .send(Method::POST, &self.key_path(key), query, None)
            .await?
            .into_result()
    }

    /// `message` for people, the server's answer with `--json`.
    fn done(&self, printer: &mut Printer, answer: &Value, message: String) -> anyhow::Result<()> {
        if self.config.json {
            printer.json(answer)
        } else {
            printer.line(message)
        }
    }
}
