//! The `wisp` command-line client: `wisp action|activation|package|trigger|rule|kv|object|project|namespace|property ...`.
//!
//! It talks to a Wisp (or any OpenWhisk) server over the REST API at `/api/v1` and nothing else:
//! it knows no server internals, so it works the same against a remote server as a local one.
//! The binary flattens `ClientCommand` into its own subcommands and calls `run`.
//!
//! Contract with scripts: exit code 0 on success, 1 when the server refused a request or a
//! function failed, 2 for usage and configuration problems. Errors go to stderr as
//! `error: <message>`; a server error reads `error: <server's error text> (code <transaction id>)`.
//! Hints go to stderr too, so with `--json` stdout holds only the server's JSON.
//! Settings: `--apihost`/`--auth` flags, else `WISP_APIHOST`/`WISP_AUTH`, else `APIHOST`/`AUTH`
//! in the properties file (`$WSK_CONFIG_FILE`, else `~/.wskprops`).

mod client;
mod commands;
mod config;
mod error;
mod names;
mod output;
mod params;
mod props;
mod time;

#[cfg(test)]
mod test_support;

use std::path::PathBuf;

use commands::{
    action, activation, kv, namespace, object, package, project, property, rule, top, trigger,
};
pub use config::ClientOpts;
use config::Config;
use output::Printer;
pub use props::write_private;
use props::Props;

// The client subcommands. (A plain comment: a doc comment here would become the `about` of
// whichever command flattens this enum.)
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, update, invoke, get, list and delete actions
    Action(Box<action::ActionArgs>),
    /// List activations and read their records, results and logs
    Activation(Box<activation::ActivationArgs>),
    /// Create, update, bind, get, list and delete packages
    Package(Box<package::PackageArgs>),
    /// Create, update, fire, get, list and delete triggers (with feeds)
    Trigger(Box<trigger::TriggerArgs>),
    /// Create, update, enable, disable, get, list and delete rules
    Rule(Box<rule::RuleArgs>),
    /// Get, set, list, count, expire and delete keys of your namespace's key-value store
    Kv(Box<kv::KvArgs>),
    /// Put, get, list and delete objects of your namespace's storage; signed URLs to them
    Object(Box<object::ObjectArgs>),
    /// Create a project, deploy one (only what changed) or watch it, print one as read
    Project(Box<project::ProjectArgs>),
    /// List the namespaces your key gives access to
    Namespace(namespace::NamespaceArgs),
    /// Show or change the client settings in ~/.wskprops (or $WSK_CONFIG_FILE)
    Property(property::PropertyArgs),
    /// Watch a server's activations, latency, process pool and refusals live (its operator's
    /// view, from its metrics endpoint)
    Top(top::TopArgs),
}

/// Runs a client command, printing its output and any error (`error: <message>` on stderr).
///
/// Returns the process exit code: 0 on success, 1 when the server refused the request or the
/// function failed, 2 for usage and configuration problems.
pub async fn run(cmd: ClientCommand) -> i32 {
    let mut printer = Printer::stdio();
    let result = execute(cmd, props::default_path(), &mut printer).await;
    finish(result, &mut printer)
}

async fn execute(
    cmd: ClientCommand,
    props_path: Option<PathBuf>,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Action(args) => {
            let config = load_config(&args.opts, props_path)?;
            action::run(args.command, &config, printer).await
        }
        ClientCommand::Activation(args) => {
            let config = load_config(&args.opts, props_path)?;
            activation::run(args.command, &config, printer).await
        }
        ClientCommand::Package(args) => {
            let config = load_config(&args.opts, props_path)?;
            package::run(args.command, &config, printer).await
        }
        ClientCommand::Trigger(args) => {
            let config = load_config(&args.opts, props_path)?;
            trigger::run(args.command, &config, printer).await
        }
        ClientCommand::Rule(args) => {
            let config = load_config(&args.opts, props_path)?;
            rule::run(args.command, &config, printer).await
        }
        ClientCommand::Kv(args) => {
            let config = load_config(&args.opts, props_path)?;
            kv::run(args.command, &config, printer).await
        }
        ClientCommand::Object(args) => {
            let config = load_config(&args.opts, props_path)?;
            object::run(args.command, args.web, &config, printer).await
        }
        ClientCommand::Project(args) => {
            let config = match args.command.needs_server() {
                true => Some(load_config(&args.opts, props_path)?),
                false => None,
            };
            project::run(args.command, config.as_ref(), printer).await
        }
        ClientCommand::Namespace(args) => {
            let config = load_config(&args.opts, props_path)?;
            namespace::run(args.command, &config, printer).await
        }
        ClientCommand::Property(args) => property::run(args.command, props_path, printer).await,
        ClientCommand::Top(args) => top::run(args, printer).await,
    }
}

fn load_config(opts: &ClientOpts, props_path: Option<PathBuf>) -> anyhow::Result<Config> {
    let props = load_props(props_path.as_deref())?;
    Ok(Config::resolve(opts, &props, props_path))
}

fn load_props(path: Option<&std::path::Path>) -> anyhow::Result<Props> {
    match path {
        // An unreadable file is a configuration problem, not a server one.
        Some(path) => Props::load(path).map_err(|e| error::usage(format!("{e:#}"))),
        None => Ok(Props::default()),
    }
}

fn finish(result: anyhow::Result<()>, printer: &mut Printer) -> i32 {
    match result {
        Ok(()) => error::EXIT_OK,
        Err(err) if error::is_broken_pipe(&err) => error::EXIT_OK,
        Err(err) => {
            // Nothing more can be done if stderr itself is gone.
            let _ = printer.note(format!("error: {err:#}"));
            error::exit_code(&err)
        }
    }
}

#[cfg(test)]
mod tests;
