//! `wisp object ...`: the namespace's data bucket (the one functions reach through the S3
//! endpoint), or with `--web` its web bucket (the files of its site), through
//! `/namespaces/{ns}/objects`. Files stream both ways; nothing is read into memory whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{ObjectList, ObjectMeta, SignedUrl};

use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::error;
use crate::names::encode_segment;
use crate::output::{columns, document, Printer};

#[derive(clap::Args, Debug)]
pub struct ObjectArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    /// Work on the web bucket (the namespace's site) instead of the data bucket
    #[arg(long, global = true)]
    pub web: bool,

    #[command(subcommand)]
    pub command: ObjectCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ObjectCommand {
    /// Upload a local file as an object (replacing one with the same key)
    Put {
        file: PathBuf,
        /// The object's key [default: the file's name]
        key: Option<String>,
        /// The content type to keep with it [default: guessed from the key when read]
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Download an object into a local file, or to stdout with `-`
    Get {
        key: String,
        /// Where to write it [default: the last part of the key, in this directory]
        file: Option<String>,
    },
    /// List objects (in key order), all or those whose key starts with PREFIX
    List {
        prefix: Option<String>,
        /// At most this many objects (1 to 1000)
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Delete an object
    Delete { key: String },
    /// Print a URL that reaches the object without credentials until it expires
    Url {
        key: String,
        /// A URL to upload the object with (PUT) instead of downloading it
        #[arg(long)]
        put: bool,
        /// Seconds the URL works (at most 604800, 7 days)
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        expires: u64,
    },
}

pub async fn run(
    command: ObjectCommand,
    web: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let objects = Objects {
        client: Client::new(config)?,
        config,
        bucket: if web { "web" } else { "data" },
    };
    match command {
        ObjectCommand::Put {
            file,
            key,
            content_type,
        } => {
            let key = match key {
                Some(key) => key,
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                    .ok_or_else(|| error::usage("name the object's key after the file"))?,
            };
            let opened = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            let length = opened.metadata().await?.len();
            let answer = objects
                .client
                .upload(
                    &objects.key_path(&key),
                    &objects.bucket(),
                    opened,
                    length,
                    content_type.as_deref(),
                )
                .await?;
            let size = document::<ObjectMeta>(&answer).size;
            let message = format!("ok: stored {key} ({size} bytes)");
            objects.done(printer, &answer, message)
        }
        ObjectCommand::Get { key, file } => {
            let target = file.unwrap_or_else(|| key.rsplit('/').next().unwrap_or(&key).to_string());
            if target == "-" {
                objects
                    .client
                    .download(&objects.key_path(&key), &objects.bucket(), |chunk| {
                        printer.bytes(chunk)
                    })
                    .await?;
                return Ok(());
            }
            let received = download_to(&objects, &key, Path::new(&target)).await?;
            let answer = json!({"key": key, "file": target, "size": received});
            objects.done(
                printer,
                &answer,
                format!("ok: wrote {target} ({received} bytes)"),
            )
        }
        ObjectCommand::List { prefix, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(objects.bucket());
            if let Some(prefix) = prefix {
                query.push(("prefix", prefix));
            }
            let list = objects.client.get(&objects.path(), &query).await?;
            if config.json {
                return printer.json(&list);
            }
            let list = document::<ObjectList>(&list);
            let rows: Vec<Vec<String>> = list
                .objects
                .iter()
                .map(|o| vec![o.size.to_string(), o.key.clone()])
                .collect();
            if !rows.is_empty() {
                printer.text(&columns(&rows))?;
            }
            if list.truncated {
                printer.note(format!(
                    "(the first {limit} objects; use a prefix for the others)"
                ))?;
            }
            Ok(())
        }
        ObjectCommand::Delete { key } => {
            let answer = objects
                .client
                .send(
                    Method::DELETE,
                    &objects.key_path(&key),
                    &objects.bucket(),
                    None,
                )
                .await?
                .into_result()?;
            objects.done(printer, &answer, format!("ok: deleted {key}"))
        }
        ObjectCommand::Url { key, put, expires } => {
            let method = if put { "PUT" } else { "GET" };
            let query = [
                ("op", "url".to_string()),
                ("method", method.to_string()),
                ("expires", expires.to_string()),
            ];
            let answer = objects
                .client
                .send(Method::POST, &objects.key_path(&key), &query, None)
                .await?
                .into_result()?;
            let url = document::<SignedUrl>(&answer).url;
            objects.done(printer, &answer, url)
        }
    }
}

/// Writes the object into `<target>.part`, then renames it over `target`: an interrupted
/// download never leaves a truncated file under the wanted name.
async fn download_to(objects: &Objects<'_>, key: &str, target: &Path) -> anyhow::Result<u64> {
    let mut partial = target.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    let mut out = std::fs::File::create(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let result = objects
        .client
        .download(&objects.key_path(key), &objects.bucket(), |chunk| {
            out.write_all(chunk)
                .with_context(|| format!("cannot write {}", partial.display()))
        })
        .await;
    match result {
        Ok(received) => {
            out.flush()?;
            drop(out);
            std::fs::rename(&partial, target)
                .with_context(|| format!("cannot write {}", target.display()))?;
            Ok(received)
        }
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

struct Objects<'a> {
    client: Client,
    config: &'a Config,
    bucket: &'static str,
}

impl Objects<'_> {
    /// The query naming the bucket.
    fn bucket(&self) -> [(&'static str, String); 1] {
        [("bucket", self.bucket.to_string())]
    }

    fn path(&self) -> String {
        format!(
            "namespaces/{}/objects",
            encode_segment(&self.config.namespace)
        )
    }

    /// The key as one percent-encoded segment (`/` included), decoded whole by the server.
    fn key_path(&self, key: &str) -> String {
        format!("{}/{}", self.path(), encode_segment(key))
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
