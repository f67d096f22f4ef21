//! `wisp trigger ...`: create, update, fire, get, list and delete triggers, and run the feed
//! lifecycle of triggers that have a feed (`feed.rs`).

use reqwest::Method;
use serde_json::{json, Value};
use wisp_wire::{Accepted, Trigger};

use super::entity::{self, full_name, updated, Kind, ListArgs, NameArg};
use super::feed::{self, FeedError, Lifecycle};
use crate::client::{ApiError, Client};
use crate::config::{ClientOpts, Config};
use crate::names::QualifiedName;
use crate::output::{self, cell, document, or_dash, Printer};
use crate::params::{put_fields, KeyValues, ParamFlags, PutFlags};

#[derive(clap::Args, Debug)]
pub struct TriggerArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: TriggerCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum TriggerCommand {
    /// Create a trigger, optionally connected to an event source through a feed action
    Create(CreateArgs),
    /// Change a trigger's parameters or annotations (a feed trigger's parameters go to its feed)
    Update(UpdateArgs),
    /// Fire a trigger: every active rule's action runs with its parameters and these
    Fire(FireArgs),
    /// Show a trigger
    Get(NameArg),
    /// List triggers, newest first
    List(ListArgs),
    /// Delete a trigger (a feed trigger is first disconnected from its feed)
    Delete(NameArg),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Trigger name: NAME or /NAMESPACE/NAME
    pub name: String,

    #[command(flatten)]
    pub flags: PutFlags,

    /// Feed action to connect the trigger to (/NAMESPACE/PACKAGE/FEED); the parameters go to it
    #[arg(short = 'f', long, value_name = "ACTION")]
    pub feed: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Trigger name: NAME or /NAMESPACE/NAME
    pub name: String,

    #[command(flatten)]
    pub flags: PutFlags,
}

#[derive(clap::Args, Debug)]
pub struct FireArgs {
    /// Trigger name: NAME or /NAMESPACE/NAME
    pub name: String,

    #[command(flatten)]
    pub params: ParamFlags,
}

pub async fn run(
    command: TriggerCommand,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        TriggerCommand::Create(args) => {
            let feed = args.feed.as_deref();
            put(&args.name, &args.flags, feed, false, config, printer).await
        }
        TriggerCommand::Update(args) => {
            put(&args.name, &args.flags, None, true, config, printer).await
        }
        TriggerCommand::Fire(args) => fire(&args, config, printer).await,
        TriggerCommand::Get(args) => {
            printer.json(&entity::get(Kind::Trigger, &args.name, config).await?)
        }
        TriggerCommand::List(args) => {
            entity::list_in_namespace(Kind::Trigger, &args, config, printer, trigger_table).await
        }
        TriggerCommand::Delete(args) => delete(&args, config, printer).await,
    }
}

/// Creates or updates (`overwrite`) a trigger. With a feed, `-p` goes to the feed rather than
/// the trigger (as in `wsk`): on create with `--feed`, and on update of a trigger that has one.
async fn put(
    raw: &str,
    flags: &PutFlags,
    new_feed: Option<&str>,
    overwrite: bool,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let name = Kind::Trigger.name(raw, config)?;
    let client = Client::new(config)?;
    let params = flags.params.values()?;
    let mut annotations = flags.annotations.values()?;
    let feed = match new_feed {
        Some(feed) => {
            // The annotation names the feed fully, in the real namespace rather than `_`.
            let namespace = entity::own_namespace(config, &client).await;
            let feed = QualifiedName::parse(feed, &namespace)?;
            annotations.set(feed::FEED.into(), json!(feed.to_string()));
            Some(feed)
        }
        None if overwrite => match get_if_present(&client, &name).await? {
            Some(existing) => {
                // Trigger annotations are replaced wholesale; keep the feed link.
                let link = existing.annotation(feed::FEED);
                if let (Some(link), false) = (link, annotations.is_empty()) {
                    annotations.set(feed::FEED.into(), link.clone());
                }
                feed::of_trigger(&existing, &config.namespace)?
            }
            None => None,
        },
        None => None,
    };
    let stored_params = (feed.is_none() && flags.params.given()).then_some(&params);
    let body = put_fields(stored_params, &annotations);
    let path = name.path("triggers");
    let answer = client
        .put(&path, &entity::put_query(overwrite), &body)
        .await?;
    let trigger: Trigger = document(&answer);
    let event = if overwrite {
        Lifecycle::Update
    } else {
        Lifecycle::Create
    };
    // An update tells the feed only when there are parameters for it.
    if let Some(feed) = feed.filter(|_| !overwrite || flags.params.given()) {
        if let Err(err) = tell_feed(&client, &feed, event, &trigger, config, &params).await {
            let mut message = format!(
                "the feed {feed} could not {} trigger {}",
                event.verb(),
                full_name(&trigger.namespace, &trigger.name)
            );
            // Leave nothing half-made: a trigger its feed refused would never fire.
            if event == Lifecycle::Create {
                if let Err(undo) = client.delete(&path).await {
                    message.push_str(&format!(
                        "; deleting the trigger failed too ({undo:#}); delete it with \
                         'wisp trigger delete {raw}'"
                    ));
                }
            }
            return Err(anyhow::Error::new(err).context(message));
        }
    }
    let message = entity::saved(Kind::Trigger, raw, overwrite);
    entity::done(config, printer, &answer, message)
}

async fn delete(args: &NameArg, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let name = Kind::Trigger.name(&args.name, config)?;
    let client = Client::new(config)?;
    let trigger: Trigger = document(&client.get(&name.path("triggers"), &[]).await?);
    if let Some(feed) = feed::of_trigger(&trigger, &config.namespace)? {
        let none = KeyValues::default();
        match tell_feed(&client, &feed, Lifecycle::Delete, &trigger, config, &none).await {
            Ok(()) => {}
            Err(FeedError::Missing(reason)) => printer.note(format!(
                "the feed {feed} is gone ({reason}); deleting the trigger anyway"
            ))?,
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!(
                    "the feed {feed} could not delete trigger {}; the trigger is kept",
                    full_name(&trigger.namespace, &trigger.name)
                )))
            }
        }
    }
    entity::delete(Kind::Trigger, &name, &args.name, &[], config, printer).await
}

async fn fire(args: &FireArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let name = Kind::Trigger.name(&args.name, config)?;
    let body = args.params.values()?.to_object();
    let client = Client::new(config)?;
    let reply = client
        .send(Method::POST, &name.path("triggers"), &[], Some(&body))
        .await?;
    let id = document::<Accepted>(&reply.body).activation_id;
    let message = match (reply.status, id.as_str()) {
        (202, id) if !id.is_empty() => format!("ok: triggered {name} with id {id}"),
        (204, _) => format!("ok: triggered {name}, but no active rule fired"),
        _ => return Err(ApiError::from_reply(&reply).into()),
    };
    entity::done(config, printer, &reply.body, message)
}

/// The trigger, or `None` when there is none of that name.
async fn get_if_present(client: &Client, name: &QualifiedName) -> anyhow::Result<Option<Trigger>> {
    let reply = client
        .send(Method::GET, &name.path("triggers"), &[], None)
        .await?;
    if reply.status == 404 {
        Ok(None)
    } else {
        Ok(Some(document(&reply.into_result()?)))
    }
}

/// Invokes `feed` with `event` for `trigger` as the server returned it (so in its real
/// namespace), with the CLI's own key.
async fn tell_feed(
    client: &Client,
    feed: &QualifiedName,
    event: Lifecycle,
    trigger: &Trigger,
    config: &Config,
    params: &KeyValues,
) -> Result<(), FeedError> {
    let auth = config.auth.as_deref().unwrap_or_default();
    let trigger_name = full_name(&trigger.namespace, &trigger.name);
    let args = feed::arguments(event, &trigger_name, auth, params);
    feed::invoke(client, feed, &args).await
}

pub fn trigger_table(list: &Value) -> String {
    let rows = entity::rows(list, |trigger: &Trigger| {
        vec![
            full_name(&trigger.namespace, &trigger.name),
            cell(trigger.annotation(feed::FEED)),
            or_dash(&trigger.version),
            updated(trigger.updated),
        ]
    });
    output::table(&["Name", "Feed", "Version", "Updated"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_the_feed() {
        let list = json!([
            {"namespace": "guest", "name": "ticks", "version": "0.0.1", "updated": 0,
             "annotations": [{"key": "feed", "value": "/guest/feeds/ticker"}]},
            {"namespace": "guest", "name": "plain", "version": "0.0.2", "updated": 0,
             "annotations": []}
        ]);
        assert_eq!(
            trigger_table(&list),
            "Name          Feed                 Version  Updated\n\
             /guest/ticks  /guest/feeds/ticker  0.0.1    -\n\
             /guest/plain  -                    0.0.2    -\n"
        );
    }
}
