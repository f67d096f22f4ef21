//! `wisp property get|set`: the client settings in the properties file shared with `wsk`.
//!
//! These subcommands take no global client options: as in `wsk`, `--apihost` and `--auth` here
//! name the setting to show or change.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::client::Client;
use crate::config::{normalize_apihost, ClientOpts, Config};
use crate::error::usage;
use crate::output::{self, Printer};
use crate::props::{self, Props};

#[derive(clap::Args, Debug)]
pub struct PropertyArgs {
    #[command(subcommand)]
    pub command: PropertyCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum PropertyCommand {
    /// Show the settings in effect (flags aside: environment, then the properties file)
    Get(GetArgs),
    /// Change settings in the properties file, keeping everything else in it
    Set(SetArgs),
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Show the API host
    #[arg(long)]
    pub apihost: bool,

    /// Show the auth key
    #[arg(long)]
    pub auth: bool,

    /// Show the namespace
    #[arg(long)]
    pub namespace: bool,

    /// Show everything, including the server's build (the default)
    #[arg(long)]
    pub all: bool,

    /// Print JSON instead of lines, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("setting").required(true).multiple(true))]
pub struct SetArgs {
    /// API host of the wisp server, e.g. http://127.0.0.1:3233
    #[arg(long, value_name = "URL", group = "setting")]
    pub apihost: Option<String>,

    /// Authorization key, UUID:KEY
    #[arg(short = 'u', long, value_name = "UUID:KEY", group = "setting")]
    pub auth: Option<String>,

    /// Namespace to use for names without one [default: the key's own, `_`]
    #[arg(long, value_name = "NAME", group = "setting")]
    pub namespace: Option<String>,
}

pub async fn run(
    command: PropertyCommand,
    props_path: Option<PathBuf>,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        PropertyCommand::Get(args) => get(&args, props_path, printer).await,
        PropertyCommand::Set(args) => set(&args, props_path, printer),
    }
}

fn set(args: &SetArgs, props_path: Option<PathBuf>, printer: &mut Printer) -> anyhow::Result<()> {
    let path = props_path.ok_or_else(|| {
        usage("cannot tell where the properties file is; set HOME or WSK_CONFIG_FILE")
    })?;
    let mut props = Props::load(&path).map_err(|e| usage(format!("{e:#}")))?;
    let mut messages = vec![];
    if let Some(apihost) = &args.apihost {
        let apihost = apihost.trim();
        if apihost.is_empty() {
            return Err(usage("the API host is empty"));
        }
        props.set(props::APIHOST, apihost);
        messages.push(format!("ok: API host set to {apihost}"));
        // The file is shared with `wsk`, which may well speak https, so only warn.
        if let Err(e) = normalize_apihost(apihost) {
            messages.push(format!("note: wisp cannot use it as it is: {e}"));
        }
    }
    if let Some(auth) = &args.auth {
        if !auth.contains(':') {
            return Err(usage("the auth key must look like UUID:KEY"));
        }
        props.set(props::AUTH, auth.trim());
        messages.push("ok: auth key set".to_string());
    }
    if let Some(namespace) = &args.namespace {
        props.set(props::NAMESPACE, namespace.trim());
        messages.push(format!("ok: namespace set to {}", namespace.trim()));
    }
    props.save(&path)?;
    for message in messages {
        printer.line(message)?;
    }
    Ok(())
}

async fn get(
    args: &GetArgs,
    props_path: Option<PathBuf>,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let props = match &props_path {
        Some(path) => Props::load(path).map_err(|e| usage(format!("{e:#}")))?,
        None => Props::default(),
    };
    let config = Config::resolve(&ClientOpts::from_env(), &props, props_path);
    let all = args.all || !(args.apihost || args.auth || args.namespace);
    let mut fields: Vec<(&str, &str, Value)> = vec![];
    let or_unset = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    if all {
        let file = config.props_path.as_ref().map(|p| p.display().to_string());
        fields.push(("configFile", "client config file", or_unset(&file)));
    }
    if all || args.apihost {
        fields.push(("apihost", "API host", or_unset(&config.apihost)));
    }
    if all || args.auth {
        fields.push(("auth", "auth", or_unset(&config.auth)));
    }
    if all || args.namespace {
        fields.push(("namespace", "namespace", json!(namespace(&config).await)));
    }
    if all {
        fields.push((
            "cliVersion",
            "CLI version",
            json!(env!("CARGO_PKG_VERSION")),
        ));
        fields.push(("api", "", server_info(&config).await));
    }
    if args.json {
        let map: Map<String, Value> = fields
            .into_iter()
            .map(|(key, _, value)| (key.to_string(), value))
            .collect();
        return printer.json(&Value::Object(map));
    }
    let mut items = vec![];
    for (key, label, value) in &fields {
        if *key == "api" {
            items.extend(server_lines(value));
        } else {
            items.push((*label, show(value)));
        }
    }
    printer.text(&output::pairs("", &items))
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "(not set)".into(),
        other => output::cell(Some(other)),
    }
}

/// The configured namespace, else the key's own as the server reports it, else `_`.
async fn namespace(config: &Config) -> String {
    match Client::new(config) {
        Ok(client) => super::entity::own_namespace(config, &client).await,
        Err(_) => config.namespace.clone(),
    }
}

/// `GET /api/v1` when the server answers; otherwise why not, as `{"unavailable": reason}`.
async fn server_info(config: &Config) -> Value {
    let client = match Client::public(config) {
        Ok(client) => client,
        Err(e) => return json!({ "unavailable": format!("{e:#}") }),
    };
    match client.get("", &[]).await {
        Ok(info) => info,
        Err(e) => json!({ "unavailable": format!("{e:#}") }),
    }
}

fn server_lines(info: &Value) -> Vec<(&'static str, String)> {
    if let Some(reason) = info.get("unavailable") {
        return vec![(
            "API build",
            format!("unknown: {}", output::cell(Some(reason))),
        )];
    }
    let field = |key| output::cell(info.get(key));
    vec![
        ("API version", field("api_version_path")),
        ("API build", field("build")),
        ("API build number", field("buildno")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines_from_api_info() {
        let info = json!({"description": "OpenWhisk API", "api_version": "1.0.0",
                          "api_version_path": "v1", "build": "2024-04-05", "buildno": "abc"});
        assert_eq!(
            server_lines(&info),
            [
                ("API version", "v1".to_string()),
                ("API build", "2024-04-05".to_string()),
                ("API build number", "abc".to_string())
            ]
        );
        let down = json!({"unavailable": "cannot reach"});
        assert_eq!(
            server_lines(&down),
            [("API build", "unknown: cannot reach".to_string())]
        );
    }
}
