//! Feeds the server hosts itself: the builtin actions of `/whisk.system/alarms`.
//!
//! A feed action is invoked like any action (by `wsk trigger create --feed`, the npm client's
//! `feeds.create`, or a plain invoke) with OpenWhisk's feed parameters: `lifecycleEvent`
//! (CREATE, READ, UPDATE, DELETE, PAUSE, UNPAUSE), `triggerName` (`/ns/trigger`) and `authKey`
//! (a key of the trigger's namespace), plus the feed's own. Invalid parameters are a 400 before
//! anything is recorded; an accepted lifecycle call is an activation whose result describes the
//! alarm.

pub(crate) mod alarm;
pub(crate) mod scheduler;

use serde_json::{json, Map, Value};
use wisp_core::time::now_ms;
use wisp_core::{EntityPath, Identity};

use crate::names::parse_fully_qualified;
use crate::{Controller, ControllerError, Result};
use alarm::{Alarm, Shape};

pub use scheduler::Scheduler;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Create,
    Read,
    Update,
    Delete,
    Pause,
    Unpause,
}

impl Lifecycle {
    fn parse(raw: &str) -> Option<Lifecycle> {
        Some(match raw.to_ascii_uppercase().as_str() {
            "CREATE" => Lifecycle::Create,
            "READ" => Lifecycle::Read,
            "UPDATE" => Lifecycle::Update,
            "DELETE" => Lifecycle::Delete,
            "PAUSE" => Lifecycle::Pause,
            "UNPAUSE" => Lifecycle::Unpause,
            _ => return None,
        })
    }
}

impl Controller {
    /// Runs a builtin action for `caller`; its result, or an error answered as is.
    pub(crate) async fn run_builtin(
        &self,
        caller: &Identity,
        builtin: &str,
        args: &Map<String, Value>,
    ) -> Result<Value> {
        let shape = Shape::of_builtin(builtin)
            .ok_or_else(|| ControllerError::Internal(format!("unknown builtin '{builtin}'")))?;
        let event = args
            .get("lifecycleEvent")
            .and_then(Value::as_str)
            .and_then(Lifecycle::parse)
            .ok_or_else(|| {
                bad("a feed action needs lifecycleEvent: CREATE, READ, UPDATE, DELETE, PAUSE or UNPAUSE")
            })?;
        let trigger = self.feed_trigger(caller, args).await?;
        let name = trigger.fully_qualified();
        let now = now_ms();
        match event {
            Lifecycle::Create => {
                self.entities()
                    .get_trigger(&trigger)
                    .await
                    .map_err(|e| match e {
                        ControllerError::NotFound => {
                            bad(&format!("the trigger {name} does not exist"))
                        }
                        other => other,
                    })?;
                let alarm = Alarm::from_params(shape, args, now).map_err(|e| bad(&e))?;
                let conflict = format!("the trigger {name} already has an alarm");
                let created = self
                    .edit_alarm(
                        &trigger,
                        Box::new(move |current| match current {
                            Some(_) => Err(ControllerError::Conflict(conflict)),
                            None => Ok(Some(alarm)),
                        }),
                    )
                    .await?;
                Ok(described(created, &name, now))
            }
            Lifecycle::Read => self
                .alarm(&trigger)
                .await?
                .map(|alarm| alarm.describe(&name, now))
                .ok_or(ControllerError::NotFound),
            Lifecycle::Update => {
                let args = args.clone();
                let updated = self
                    .edit_alarm(
                        &trigger,
                        Box::new(move |current| {
                            let current = current.ok_or(ControllerError::NotFound)?;
                            current
                                .updated(shape, &args, now)
                                .map(Some)
                                .map_err(|e| bad(&e))
                        }),
                    )
                    .await?;
                Ok(described(updated, &name, now))
            }
            Lifecycle::Pause | Lifecycle::Unpause => {
                let paused = event == Lifecycle::Pause;
                let changed = self
                    .edit_alarm(
                        &trigger,
                        Box::new(move |current| {
                            let mut alarm = current.ok_or(ControllerError::NotFound)?.clone();
                            alarm.paused = paused;
                            Ok(Some(alarm))
                        }),
                    )
                    .await?;
                Ok(described(changed, &name, now))
            }
            // Deleting what is not there succeeds: a trigger deletion may have ended it already.
            Lifecycle::Delete => {
                let existed = self.alarm(&trigger).await?.is_some();
                self.forget_alarm(&trigger).await?;
                Ok(json!({"triggerName": name, "deleted": existed}))
            }
        }
    }

    /// The trigger a feed call is about, once `authKey` is shown to be a key of its namespace.
    async fn feed_trigger(
        &self,
        caller: &Identity,
        args: &Map<String, Value>,
    ) -> Result<EntityPath> {
        let raw = args
            .get("triggerName")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a feed action needs triggerName, the trigger's /namespace/name"))?;
        let trigger = parse_fully_qualified(raw, &caller.namespace)
            .ok()
            .filter(|t| t.package.is_none())
            .ok_or_else(|| bad(&format!("triggerName '{raw}' is not a trigger name")))?;
        let key = args
            .get("authKey")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a feed action needs authKey, a key of the trigger's namespace"))?;
        let owner = match key.split_once(':') {
            Some((uuid, secret)) => self.entities().authenticate(uuid, secret).await?,
            None => None,
        };
        match owner {
            Some(owner) if owner.namespace == trigger.namespace => Ok(trigger),
            _ => Err(ControllerError::Forbidden(trigger.fully_qualified())),
        }
    }
}

fn described(alarm: Option<Alarm>, trigger: &str, now: u64) -> Value {
    match alarm {
        Some(alarm) => alarm.describe(trigger, now),
        None => json!({"triggerName": trigger, "status": {"active": false}}),
    }
}

fn bad(message: &str) -> ControllerError {
    ControllerError::BadRequest(message.to_string())
}
