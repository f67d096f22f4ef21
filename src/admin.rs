//! `wisp admin`: namespaces and keys, straight on the data directory (like `wskadmin`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use wisp_core::EntityName;
use wisp_store::{EntityStore, SqliteStore};

#[derive(Args)]
pub struct AdminArgs {
    /// The server's data directory.
    #[arg(long, env = "WISP_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Namespaces and their keys.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
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
    /// Delete a namespace with its keys and entities.
    Delete { namespace: String },
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(crate::paths::default_data_dir);
    let (store, _activations) = SqliteStore::open(&dir.join("db"))
        .with_context(|| format!("cannot open the data directory {}", dir.display()))?;
    match args.command {
        AdminCommand::Namespace(NamespaceCommand::Create { namespace, auth }) => {
            let namespace = EntityName::parse(&namespace).context("invalid namespace name")?;
            let pair = auth.map(|a| split_auth(&a)).transpose()?;
            let key = wisp_controller::add_key(&store, namespace, pair).await?;
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
    }
    Ok(())
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
