//! `wisp action ...`: get, list and delete here; create/update in `action_put`, invoke in `invoke`.

use serde_json::Value;
use wisp_wire::{Action, ActionLimits};

use super::entity::{self, full_name, parameter_keys, updated, Kind, PageFlags};
use super::{action_put, invoke};
use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::names::{encode_segment, QualifiedName};
use crate::output::{self, cell, document, or_dash, Printer};

#[derive(clap::Args, Debug)]
pub struct ActionArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: ActionCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ActionCommand {
    /// Create an action from a source file (or a sequence of actions)
    Create(action_put::CreateArgs),
    /// Change an action's code, parameters, annotations or limits
    Update(action_put::UpdateArgs),
    /// Invoke an action
    Invoke(invoke::InvokeArgs),
    /// Show an action
    Get(GetArgs),
    /// List actions, newest first
    List(ListArgs),
    /// Delete an action
    Delete(DeleteArgs),
}

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub name: String,

    /// Show a short description instead of the JSON
    #[arg(short = 's', long)]
    pub summary: bool,

    /// Include the code (--code false leaves it out)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub code: bool,

    /// Print only the action's web URL
    #[arg(long, conflicts_with = "summary")]
    pub url: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only the actions of this package (PACKAGE or /NAMESPACE/PACKAGE)
    pub package: Option<String>,

    #[command(flatten)]
    pub page: PageFlags,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub name: String,
}

pub async fn run(
    command: ActionCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    use action_put::PutMode;
    match command {
        ActionCommand::Create(args) => {
            let file = args.file.as_deref();
            action_put::run(
                PutMode::Create,
                &args.name,
                file,
                &args.spec,
                config,
                printer,
            )
            .await
        }
        ActionCommand::Update(args) => {
            let file = args.file.as_deref();
            action_put::run(
                PutMode::Update,
                &args.name,
                file,
                &args.spec,
                config,
                printer,
            )
            .await
        }
        ActionCommand::Invoke(args) => invoke::run(&args, config, printer).await,
        ActionCommand::Get(args) => get(&args, config, printer).await,
        ActionCommand::List(args) => list(&args, config, printer).await,
        ActionCommand::Delete(args) => delete(&args, config, printer).await,
    }
}

async fn get(args: &GetArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let name = QualifiedName::parse(&args.name, &config.namespace)?;
    let client = Client::new(config)?;
    let with_code = args.code && !args.summary && !args.url;
    let query = [("code", with_code.to_string())];
    let action = client.get(&name.path("actions"), &query).await?;
    if args.url {
        printer.line(web_url(&config.base_url()?, &document(&action)))
    } else if args.summary && !config.json {
        printer.text(&summary(&document(&action)))
    } else {
        printer.json(&action)
    }
}

async fn list(args: &ListArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let path = match &args.package {
        // The trailing slash is how the API tells a package listing from an action.
        Some(raw) => {
            let package = QualifiedName::parse_package(raw, &config.namespace)?;
            format!(
                "namespaces/{}/actions/{}/",
                encode_segment(&package.namespace),
                encode_segment(&package.name)
            )
        }
        None => Kind::Action.collection_path(&config.namespace),
    };
    entity::list(
        Kind::Action,
        &path,
        &args.page,
        config,
        printer,
        action_table,
    )
    .await
}

async fn delete(args: &DeleteArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let name = QualifiedName::parse(&args.name, &config.namespace)?;
    entity::delete(Kind::Action, &name, &args.name, &[], config, printer).await
}

/// `<apihost>/api/v1/web/<namespace>/<package|default>/<name>` of an action document.
pub fn web_url(base_url: &str, action: &Action) -> String {
    let parent = &action.namespace;
    let (namespace, package) = parent.split_once('/').unwrap_or((parent, "default"));
    format!(
        "{base_url}/api/v1/web/{}/{}/{}",
        encode_segment(namespace),
        encode_segment(package),
        encode_segment(&action.name)
    )
}

pub fn action_table(list: &Value) -> String {
    let rows = entity::rows(list, |action: &Action| {
        // A listing leaves the kind out of `exec`; OpenWhisk says it in an annotation.
        let kind = match (action.annotation("exec"), &action.exec.kind) {
            (Some(annotated), _) => cell(Some(annotated)),
            (None, Some(kind)) => kind.clone(),
            (None, None) => "-".into(),
        };
        vec![
            full_name(&action.namespace, &action.name),
            kind,
            or_dash(&action.version),
            updated(action.updated),
        ]
    });
    output::table(&["Name", "Kind", "Version", "Updated"], &rows)
}

/// A few lines a person can read at a glance.
pub fn summary(action: &Action) -> String {
    let exec = &action.exec;
    let mut items = vec![("kind", exec.kind.clone().unwrap_or_else(|| "-".into()))];
    if let Some(main) = &exec.main {
        items.push(("main", main.clone()));
    }
    if let Some(components) = &exec.components {
        items.push(("components", components.join(", ")));
    }
    items.push(("version", or_dash(&action.version)));
    items.push(("updated", updated(action.updated)));
    let web = match (
        action.annotation("web-export"),
        action.annotation("raw-http"),
    ) {
        (Some(Value::Bool(true)), Some(Value::Bool(true))) => "raw",
        (Some(Value::Bool(true)), _) => "yes",
        _ => "no",
    };
    items.push(("web", web.into()));
    items.push(("parameters", parameter_keys(action.parameters.as_deref())));
    // A server that sent no limits reads as all zeros: say nothing rather than zeros.
    if action.limits != ActionLimits::default() {
        let l = action.limits;
        items.push((
            "limits",
            format!(
                "timeout {} ms, memory {} MB, logs {} MB, concurrency {}",
                l.timeout, l.memory, l.logs, l.concurrency
            ),
        ));
    }
    format!(
        "action {}\n{}",
        full_name(&action.namespace, &action.name),
        output::pairs("  ", &items)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hello() -> Value {
        json!({
            "namespace": "guest", "name": "hello", "version": "0.0.3", "publish": false,
            "exec": {"kind": "nodejs:20", "binary": false, "main": "main"},
            "annotations": [
                {"key": "web-export", "value": true},
                {"key": "exec", "value": "nodejs:20"}
            ],
            "parameters": [{"key": "name", "value": "World"}, {"key": "n", "value": 1}],
            "limits": {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
            "updated": 1712345678901_i64
        })
    }

    #[test]
    fn summary_view() {
        assert_eq!(
            summary(&document(&hello())),
            "action /guest/hello\n\
             \x20 kind        nodejs:20\n\
             \x20 main        main\n\
             \x20 version     0.0.3\n\
             \x20 updated     2024-04-05 19:34:38\n\
             \x20 web         yes\n\
             \x20 parameters  name, n\n\
             \x20 limits      timeout 60000 ms, memory 256 MB, logs 10 MB, concurrency 1\n"
        );
    }

    #[test]
    fn list_table_uses_the_exec_annotation_and_package_namespace() {
        let list = json!([
            hello(),
            {"namespace": "guest/utils", "name": "date", "version": "0.0.1",
             "annotations": [], "exec": {"binary": false}, "updated": 0}
        ]);
        assert_eq!(
            action_table(&list),
            "Name               Kind       Version  Updated\n\
             /guest/hello       nodejs:20  0.0.3    2024-04-05 19:34:38\n\
             /guest/utils/date  -          0.0.1    -\n"
        );
    }

    #[test]
    fn web_urls_name_the_package_or_default() {
        assert_eq!(
            web_url("http://h:1", &document(&hello())),
            "http://h:1/api/v1/web/guest/default/hello"
        );
        let packaged = json!({"namespace": "guest/my utils", "name": "date"});
        assert_eq!(
            web_url("http://h:1", &document(&packaged)),
            "http://h:1/api/v1/web/guest/my%20utils/date"
        );
    }
}
