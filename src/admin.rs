//! `wisp admin`: namespaces, keys and namespace limits, straight on the store (like
//! `wskadmin`): the data directory's SQLite files, or the PostgreSQL database of `--store`.
//! Also while a server runs on it: the server sees a change within its identity cache time
//! (`wisp serve --identity-cache-ttl`, 5 s by default).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use wisp_core::{EntityName, NamespaceLimits};
use wisp_store::Backend;

/// The id `wisp admin` opens a PostgreSQL store under: it writes no activations, so it owns
/// no pending work (see `CONTROLLER_ID` in `serve/build.rs`).
const ADMIN_ID: &str = "admin";

#[derive(Args)]
pub struct AdminArgs {
    /// The server's data directory (where its SQLite store is).
    #[arg(long, env = "WISP_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// The server's store: `sqlite` (under the data directory) or its `postgres://` URL, as
    /// `wisp serve --store` takes it.
    #[arg(long, env = "WISP_STORE", hide_env_values = true, default_value = "sqlite", global = true, value_parser = crate::store::STORE_PARSER)]
    store: Backend,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Namespaces and their keys.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// A namespace's own throttles, overriding the server's defaults.
    #[command(subcommand)]
    Limits(LimitsCommand),
}

#[derive(Subcommand)]
enum NamespaceCommand {
    /// Create a namespace (or add a key to one) and print its `uuid:key`.
    Create {
        namespace: String,
        /// Use this `uuid:key` instead of generating one.
        #[arg(long)]
        auth: Option<String>,
    },
    /// List namespaces and the uuids of their keys.
    List,
    /// Delete a namespace with its keys, limits and entities.
    Delete { namespace: String },
}

#[derive(Subcommand)]
enum LimitsCommand {
    /// Set some of a namespace's limits (the others are kept) and print them all.
    Set {
        namespace: String,
        #[command(flatten)]
        limits: LimitFlags,
        /// Print the limits as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the limits a namespace has of its own.
    Get {
        namespace: String,
        /// Print them as JSON: only the limits set, as OpenWhisk names them.
        #[arg(long)]
        json: bool,
    },
    /// Remove a namespace's limits: the server's defaults apply again.
    Delete { namespace: String },
}

#[derive(Args)]
#[group(required = true, multiple = true)]
struct LimitFlags {
    /// Invocations per minute (0 refuses every invocation).
    #[arg(long)]
    invocations_per_minute: Option<u64>,
    /// Activations in flight at once.
    #[arg(long)]
    concurrent_invocations: Option<u64>,
    /// Trigger fires per minute.
    #[arg(long)]
    fires_per_minute: Option<u64>,
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    let stores = args
        .store
        .open(&dir.join("db"), ADMIN_ID)
        .await
        .with_context(|| crate::store::cannot_open(&args.store, &dir))?;
    let store = &*stores.entities;
    match args.command {
        AdminCommand::Namespace(NamespaceCommand::Create { namespace, auth }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            let pair = auth.map(|a| split_auth(&a)).transpose()?;
            let key = wisp_controller::add_key(store, namespace, pair).await?;
            println!("{}", key.auth());
        }
        AdminCommand::Namespace(NamespaceCommand::List) => {
            for key in store.list_keys().await? {
                println!("{:<32} {}", key.namespace, key.uuid);
            }
        }
        AdminCommand::Namespace(NamespaceCommand::Delete { namespace }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            let keys = store.delete_namespace(namespace.clone()).await?;
            if keys == 0 {
                bail!("namespace {namespace} has no keys");
            }
            println!("ok: deleted namespace {namespace}");
        }
        AdminCommand::Limits(LimitsCommand::Set {
            namespace,
            limits,
            json,
        }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            let patch = NamespaceLimits {
                invocations_per_minute: limits.invocations_per_minute,
                concurrent_invocations: limits.concurrent_invocations,
                fires_per_minute: limits.fires_per_minute,
            };
            let keys = store.list_keys().await?;
            if !keys.iter().any(|k| k.namespace == namespace) {
                bail!(
                    "namespace {namespace} has no keys: create it first with \
                     `wisp admin namespace create {namespace}`"
                );
            }
            let limits = store.get_limits(namespace.clone()).await?.updated(patch);
            store.put_limits(namespace, limits).await?;
            print_limits(&limits, json);
        }
        AdminCommand::Limits(LimitsCommand::Get { namespace, json }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            print_limits(&store.get_limits(namespace).await?, json);
        }
        AdminCommand::Limits(LimitsCommand::Delete { namespace }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            if store.get_limits(namespace.clone()).await?.is_empty() {
                bail!("namespace {namespace} has no limits of its own");
            }
            store
                .put_limits(namespace.clone(), NamespaceLimits::default())
                .await?;
            println!("ok: deleted the limits of namespace {namespace}");
        }
    }
    Ok(())
}

/// One line a limit (`default` where the server's applies), or with `json` an object of the
/// limits set, in OpenWhisk's names.
fn print_limits(limits: &NamespaceLimits, json: bool) {
    let fields = [
        ("invocationsPerMinute", limits.invocations_per_minute),
        ("concurrentInvocations", limits.concurrent_invocations),
        ("firesPerMinute", limits.fires_per_minute),
    ];
    if json {
        let set: Map<String, Value> = fields
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), Value::from((*value)?))))
            .collect();
        println!("{}", Value::Object(set));
        return;
    }
    for (name, value) in fields {
        let value = value.map_or_else(|| "default".to_string(), |v| v.to_string());
        println!("{name:<24}{value}");
    }
}

/// Splits `uuid:key`, checking the shape OpenWhisk clients expect.
pub fn split_auth(auth: &str) -> anyhow::Result<(String, String)> {
    let (uuid, key) = auth
        .split_once(':')
        .context("a key must look like UUID:KEY")?;
    if uuid.is_empty() || key.is_empty() || key.contains(':') {
        bail!("a key must look like UUID:KEY");
    }
    Ok((uuid.to_string(), key.to_string()))
}
