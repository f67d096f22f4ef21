//! `wisp namespace list` and `wisp namespace login-token`.

use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::output::{self, cell, Printer};

#[derive(clap::Args, Debug)]
pub struct NamespaceArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: NamespaceCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum NamespaceCommand {
    /// List the namespaces your key gives access to
    List,
    /// Print a one-time token that logs Nimbella's CLI in on any machine
    /// (`nim auth login TOKEN`), with object storage and the key-value store on
    LoginToken {
        /// Seconds the token stays valid (at most a week; default an hour)
        #[arg(long)]
        ttl: Option<u64>,
    },
}

pub async fn run(
    command: NamespaceCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        NamespaceCommand::List => {
            let client = Client::new(config)?;
            let list = client.get("namespaces", &[]).await?;
            if config.json {
                return printer.json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|ns| vec![cell(Some(ns))])
                .collect();
            printer.text(&output::table(&["Namespace"], &rows))
        }
        NamespaceCommand::LoginToken { ttl } => {
            let client = Client::new(config)?;
            let query: Vec<(&str, String)> =
                ttl.map(|t| ("ttl", t.to_string())).into_iter().collect();
            let answer = client.get("web/nimbella/user/tokenizer", &query).await?;
            if config.json {
                return printer.json(&answer);
            }
            let token = answer["token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("the server answered no token: {answer}"))?;
            printer.line(token)?;
            printer.note("log in with: nim auth login <token> (once, before it expires)")
        }
    }
}
