//! `wisp rule ...`: rules connect a trigger to an action; enable, disable and read their status.

use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{PathName, Rule};

use super::entity::{self, full_name, updated, Kind, ListArgs, NameArg};
use crate::client::Client;
use crate::config::{ClientOpts, Config};
use crate::names::QualifiedName;
use crate::output::{self, document, or_dash, Printer};

#[derive(clap::Args, Debug)]
pub struct RuleArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: RuleCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum RuleCommand {
    /// Create a rule: when TRIGGER fires, ACTION runs (the rule starts active)
    Create(PutArgs),
    /// Point a rule at another trigger or action (its status is kept)
    Update(PutArgs),
    /// Make a rule active: its action runs when its trigger fires
    Enable(NameArg),
    /// Make a rule inactive: firing its trigger no longer runs its action
    Disable(NameArg),
    /// Say whether a rule is active
    Status(NameArg),
    /// Show a rule
    Get(NameArg),
    /// List rules, newest first
    List(ListArgs),
    /// Delete a rule
    Delete(NameArg),
}

#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// Rule name: NAME or /NAMESPACE/NAME
    pub name: String,

    /// Trigger name: NAME or /NAMESPACE/NAME
    pub trigger: String,

    /// Action name: NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME
    pub action: String,
}

pub async fn run(
    command: RuleCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        RuleCommand::Create(args) => put(&args, false, config, printer).await,
        RuleCommand::Update(args) => put(&args, true, config, printer).await,
        RuleCommand::Enable(args) => set_status(&args, "active", "enabled", config, printer).await,
        RuleCommand::Disable(args) => {
            set_status(&args, "inactive", "disabled", config, printer).await
        }
        RuleCommand::Status(args) => {
            let rule = entity::get(Kind::Rule, &args.name, config).await?;
            let status = document::<Rule>(&rule).status.unwrap_or_else(|| "-".into());
            let message = format!("ok: rule {} is {status}", args.name);
            entity::done(config, printer, &rule, message)
        }
        RuleCommand::Get(args) => printer.json(&entity::get(Kind::Rule, &args.name, config).await?),
        RuleCommand::List(args) => {
            entity::list_in_namespace(Kind::Rule, &args, config, printer, rule_table).await
        }
        RuleCommand::Delete(args) => {
            let name = Kind::Rule.name(&args.name, config)?;
            entity::delete(Kind::Rule, &name, &args.name, &[], config, printer).await
        }
    }
}

async fn put(
    args: &PutArgs,
    overwrite: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let body = put_body(&args.trigger, &args.action, &config.namespace)?;
    entity::put(Kind::Rule, &args.name, &body, overwrite, config, printer).await
}

async fn set_status(
    args: &NameArg,
    status: &str,
    verb: &str,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let name = Kind::Rule.name(&args.name, config)?;
    let body = json!({ "status": status });
    let answer = Client::new(config)?
        .send(Method::POST, &name.path("rules"), &[], Some(&body))
        .await?
        .into_result()?;
    entity::done(
        config,
        printer,
        &answer,
        format!("ok: {verb} rule {}", args.name),
    )
}

/// The RulePut body: the trigger and the action, fully qualified (`_` is the caller's own
/// namespace to the server).
pub fn put_body(trigger: &str, action: &str, namespace: &str) -> anyhow::Result<Value> {
    let trigger = QualifiedName::parse_unpackaged(trigger, namespace, "trigger")?;
    let action = QualifiedName::parse(action, namespace)?;
    Ok(json!({ "trigger": trigger.to_string(), "action": action.to_string() }))
}

/// `/path/name` of a rule's trigger or action, `-` when the server named none.
fn reference(target: &PathName) -> String {
    if target.name.is_empty() {
        "-".into()
    } else {
        target.fully_qualified()
    }
}

pub fn rule_table(list: &Value) -> String {
    let rows = entity::rows(list, |rule: &Rule| {
        vec![
            full_name(&rule.namespace, &rule.name),
            reference(&rule.trigger),
            reference(&rule.action),
            or_dash(&rule.version),
            updated(rule.updated),
        ]
    });
    output::table(&["Name", "Trigger", "Action", "Version", "Updated"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_body_names_both_ends_fully() {
        assert_eq!(
            put_body("t", "pkg/a", "_").unwrap(),
            json!({"trigger": "/_/t", "action": "/_/pkg/a"})
        );
        assert_eq!(
            put_body("/ns/t", "/other/a", "guest").unwrap(),
            json!({"trigger": "/ns/t", "action": "/other/a"})
        );
        assert!(
            put_body("a/b", "x", "_").is_err(),
            "triggers are not in packages"
        );
    }

    #[test]
    fn table_shows_both_ends() {
        let list = json!([{"namespace": "guest", "name": "r", "version": "0.0.1", "updated": 0,
                           "trigger": {"path": "guest", "name": "t"},
                           "action": {"path": "guest/tools", "name": "echo"}}]);
        assert_eq!(
            rule_table(&list),
            "Name      Trigger   Action             Version  Updated\n\
             /guest/r  /guest/t  /guest/tools/echo  0.0.1    -\n"
        );
    }
}
