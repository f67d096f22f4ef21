//! `wisp namespace list`.

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
    }
}
