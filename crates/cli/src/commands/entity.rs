//! What the entity families (actions, packages, triggers, rules) share: list pages, deletes,
//! the "ok: ..." lines, the columns every table has, and the caller's real namespace.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use wisp_wire::KeyValue;

use crate::client::Client;
use crate::config::Config;
use crate::names::{encode_segment, QualifiedName};
use crate::output::{self, cell, Printer};
use crate::time::format_millis;

/// The entity collections of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Action,
    Package,
    Trigger,
    Rule,
}

impl Kind {
    /// The word used in messages: "ok: created trigger t".
    pub fn word(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Package => "package",
            Kind::Trigger => "trigger",
            Kind::Rule => "rule",
        }
    }

    /// The collection in URLs, which is also the key of a `?count=true` answer.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Action => "actions",
            Kind::Package => "packages",
            Kind::Trigger => "triggers",
            Kind::Rule => "rules",
        }
    }

    /// Parses the name of an entity that lives directly in a namespace (`NAME` or `/NS/NAME`).
    pub fn name(self, raw: &str, config: &Config) -> anyhow::Result<QualifiedName> {
        QualifiedName::parse_unpackaged(raw, &config.namespace, self.word())
    }

    /// `namespaces/{ns}/{collection}`.
    pub fn collection_path(self, namespace: &str) -> String {
        format!(
            "namespaces/{}/{}",
            encode_segment(namespace),
            self.collection()
        )
    }
}

/// `--limit`, `--skip` and `--count` of every list command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PageFlags {
    /// How many to show (the server's default is 30, at most 200)
    #[arg(short = 'l', long, value_name = "N")]
    pub limit: Option<u32>,

    /// How many of the newest to skip
    #[arg(short = 's', long, value_name = "N")]
    pub skip: Option<u32>,

    /// Print only how many there are
    #[arg(long)]
    pub count: bool,
}

impl PageFlags {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![];
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(skip) = self.skip {
            query.push(("skip", skip.to_string()));
        }
        if self.count {
            query.push(("count", "true".to_string()));
        }
        query
    }
}

/// The arguments of `package|trigger|rule list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// List this namespace's instead of your own
    pub namespace: Option<String>,

    #[command(flatten)]
    pub page: PageFlags,
}

impl ListArgs {
    pub fn namespace<'a>(&'a self, config: &'a Config) -> &'a str {
        self.namespace
            .as_deref()
            .map(|ns| ns.trim_matches('/'))
            .unwrap_or(&config.namespace)
    }
}

/// One entity named on the command line.
#[derive(clap::Args, Debug)]
pub struct NameArg {
    /// Name: NAME or /NAMESPACE/NAME
    pub name: String,
}

/// GETs one entity named on the command line.
pub async fn get(kind: Kind, raw: &str, config: &Config) -> anyhow::Result<Value> {
    let name = kind.name(raw, config)?;
    Client::new(config)?
        .get(&name.path(kind.collection()), &[])
        .await
}

/// GETs a list page and prints it as `table` renders it (or its JSON, or the count).
pub async fn list(
    kind: Kind,
    path: &str,
    page: &PageFlags,
    config: &Config,
    printer: &mut Printer,
    table: fn(&Value) -> String,
) -> anyhow::Result<()> {
    let client = Client::new(config)?;
    let body = client.get(path, &page.query()).await?;
    if config.json {
        printer.json(&body)
    } else if page.count {
        printer.line(cell(body.get(kind.collection())))
    } else {
        printer.text(&table(&body))
    }
}

/// The query of a PUT: an update overwrites, a create fails on an existing name.
pub fn put_query(overwrite: bool) -> Vec<(&'static str, String)> {
    if overwrite {
        vec![("overwrite", "true".to_string())]
    } else {
        vec![]
    }
}

/// "ok: created rule r" or "ok: updated rule r".
pub fn saved(kind: Kind, raw: &str, overwrite: bool) -> String {
    let verb = if overwrite { "updated" } else { "created" };
    format!("ok: {verb} {} {raw}", kind.word())
}

/// PUTs one entity (creating it, or updating it with `overwrite`) and says so.
pub async fn put(
    kind: Kind,
    raw: &str,
    body: &Value,
    overwrite: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let name = kind.name(raw, config)?;
    let saved_entity = Client::new(config)?
        .put(&name.path(kind.collection()), &put_query(overwrite), body)
        .await?;
    done(config, printer, &saved_entity, saved(kind, raw, overwrite))
}

/// `package|trigger|rule list [NAMESPACE]`.
pub async fn list_in_namespace(
    kind: Kind,
    args: &ListArgs,
    config: &Config,
    printer: &mut Printer,
    table: fn(&Value) -> String,
) -> anyhow::Result<()> {
    let path = kind.collection_path(args.namespace(config));
    list(kind, &path, &args.page, config, printer, table).await
}

/// DELETEs one entity and says so.
pub async fn delete(
    kind: Kind,
    name: &QualifiedName,
    raw: &str,
    query: &[(&str, String)],
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let client = Client::new(config)?;
    let deleted = client
        .send(
            reqwest::Method::DELETE,
            &name.path(kind.collection()),
            query,
            None,
        )
        .await?
        .into_result()?;
    done(
        config,
        printer,
        &deleted,
        format!("ok: deleted {} {raw}", kind.word()),
    )
}

/// The end of a command that changed something: the server's JSON with `--json` (`{}` when it
/// answered with no body), else the "ok: ..." line.
pub fn done(
    config: &Config,
    printer: &mut Printer,
    body: &Value,
    message: String,
) -> anyhow::Result<()> {
    if !config.json {
        printer.line(message)
    } else if body.is_null() {
        printer.json(&json!({}))
    } else {
        printer.json(body)
    }
}

/// The rows of a list answer, each document read as a `T`.
pub fn rows<T: DeserializeOwned + Default>(
    list: &Value,
    row: impl Fn(&T) -> Vec<String>,
) -> Vec<Vec<String>> {
    output::documents(list).iter().map(row).collect()
}

/// `/namespace/name` of an entity (an action's `namespace` holds its package).
pub fn full_name(namespace: &str, name: &str) -> String {
    format!("/{namespace}/{name}")
}

/// The `updated` time of an entity, for people; `-` when the server sent none (it reads as 0).
pub fn updated(millis: u64) -> String {
    match millis {
        0 => "-".into(),
        millis => format_millis(millis as i64),
    }
}

/// The keys of `parameters`, comma-separated, or `none`.
pub fn parameter_keys(parameters: Option<&[KeyValue]>) -> String {
    listed(
        parameters
            .unwrap_or_default()
            .iter()
            .map(|p| p.key.as_str()),
    )
}

/// Names, comma-separated, or `none`.
pub fn listed<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The configured namespace, else the key's own as the server reports it, else `_`.
pub async fn own_namespace(config: &Config, client: &Client) -> String {
    if config.namespace != "_" {
        return config.namespace.clone();
    }
    match client.get("namespaces", &[]).await {
        Ok(Value::Array(list)) if list.len() == 1 => cell(list.first()),
        _ => config.namespace.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_has_only_what_was_given() {
        assert!(PageFlags::default().query().is_empty());
        let page = PageFlags {
            limit: Some(5),
            skip: Some(10),
            count: true,
        };
        assert_eq!(
            page.query(),
            [
                ("limit", "5".to_string()),
                ("skip", "10".to_string()),
                ("count", "true".to_string())
            ]
        );
    }

    #[test]
    fn full_names() {
        assert_eq!(full_name("guest", "r"), "/guest/r");
        assert_eq!(full_name("guest/pkg", "a"), "/guest/pkg/a");
    }

    #[test]
    fn parameter_keys_or_none() {
        let p = [KeyValue::new("a", json!(1)), KeyValue::new("b", json!(2))];
        assert_eq!(parameter_keys(Some(&p)), "a, b");
        assert_eq!(parameter_keys(Some(&[])), "none");
        assert_eq!(parameter_keys(None), "none");
    }

    #[test]
    fn an_entity_without_an_update_time_shows_a_dash() {
        assert_eq!(updated(0), "-");
        assert_eq!(updated(1712345678901), "2024-04-05 19:34:38");
    }

    #[test]
    fn list_namespace_defaults_to_the_configured_one() {
        let config = Config {
            apihost: None,
            auth: None,
            namespace: "_".into(),
            json: false,
            props_path: None,
        };
        let args = |ns: Option<&str>| ListArgs {
            namespace: ns.map(str::to_string),
            page: PageFlags::default(),
        };
        assert_eq!(args(None).namespace(&config), "_");
        assert_eq!(args(Some("/other")).namespace(&config), "other");
        assert_eq!(
            Kind::Trigger.collection_path("my ns"),
            "namespaces/my%20ns/triggers"
        );
    }
}
