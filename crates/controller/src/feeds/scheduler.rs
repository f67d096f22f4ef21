//! The alarm scheduler: one task per controller owns its view of every alarm, fires the
//! triggers that come due, and is its controller's only writer of their stored state, so a
//! fire, an UPDATE and a trigger deletion can never interleave their writes.
//!
//! Several controllers share one store in a cluster, and each fires each tick once between
//! them: a fire first claims its tick by replacing the stored alarm only if it still holds
//! what this controller last saw (`EntityStore::claim_feed`); the controller that loses
//! reloads it. Every few seconds each reloads all alarms, so one made, changed or deleted
//! through another controller is seen, and the alarms of a controller that died fire on.
//! A claimed tick whose fire is then lost with its controller is skipped: at most once.
//!
//! Missed fires: an alarm that came due while the server was down fires **once** when the
//! server is back (however many fires were missed), then continues on its schedule. A `once`
//! alarm whose date passed during the downtime fires at start.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Map;
use tokio::sync::{mpsc, oneshot};
use wisp_core::time::now_ms;
use wisp_core::{ActivationId, EntityPath};
use wisp_store::FeedRecord;

use super::alarm::Alarm;
use crate::{Controller, ControllerError, Result};

/// The provider name of alarm records in the store.
pub const PROVIDER: &str = "alarms";

/// The longest sleep between looks at the clock and at the stored alarms, so a wall-clock
/// jump and the other controllers' changes are noticed.
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// A change to one alarm, applied by the scheduler task: given the current alarm, the new one
/// (`None` removes it).
pub type Edit = Box<dyn FnOnce(Option<&Alarm>) -> Result<Option<Alarm>> + Send>;

enum Command {
    Get {
        trigger: EntityPath,
        reply: oneshot::Sender<Option<Alarm>>,
    },
    Edit {
        trigger: EntityPath,
        edit: Edit,
        reply: oneshot::Sender<Result<Option<Alarm>>>,
    },
}

/// The handle the controller keeps; the task starts with [`Controller::start`].
pub struct Scheduler {
    commands: mpsc::UnboundedSender<Command>,
    waiting: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
}

impl Default for Scheduler {
    fn default() -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        Scheduler {
            commands,
            waiting: Mutex::new(Some(receiver)),
        }
    }
}

struct Entry {
    alarm: Alarm,
    /// When it fires next; `None` when paused or done.
    next: Option<u64>,
    /// The stored document this controller last read or wrote: what a claim expects.
    doc: String,
}

impl Controller {
    /// The alarm of a trigger, if it has one.
    pub(crate) async fn alarm(&self, trigger: &EntityPath) -> Result<Option<Alarm>> {
        let (reply, answer) = oneshot::channel();
        self.scheduler_command(Command::Get {
            trigger: trigger.clone(),
            reply,
        })?;
        answer.await.map_err(|_| stopped())
    }

    /// Applies `edit` to a trigger's alarm, stores the result and reschedules; returns the new
    /// alarm.
    pub(crate) async fn edit_alarm(
        &self,
        trigger: &EntityPath,
        edit: Edit,
    ) -> Result<Option<Alarm>> {
        let (reply, answer) = oneshot::channel();
        self.scheduler_command(Command::Edit {
            trigger: trigger.clone(),
            edit,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stops and forgets a trigger's alarm, if any (the trigger is being deleted).
    pub(crate) async fn forget_alarm(&self, trigger: &EntityPath) -> Result<()> {
        match self.edit_alarm(trigger, Box::new(|_| Ok(None))).await {
            Ok(_) => Ok(()),
            // No scheduler running (a controller that was never started): the store is all.
            Err(_) => Ok(self
                .inner
                .entities
                .store()
                .delete_feed(trigger.clone())
                .await
                .map(drop)?),
        }
    }

    fn scheduler_command(&self, command: Command) -> Result<()> {
        self.inner
            .scheduler
            .commands
            .send(command)
            .map_err(|_| stopped())
    }

    /// Loads the stored alarms and starts the scheduler task.
    pub(crate) async fn spawn_scheduler(&self) -> Result<()> {
        let Some(commands) = self
            .inner
            .scheduler
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return Ok(());
        };
        let mut alarms = HashMap::new();
        self.reload_alarms(&mut alarms).await?;
        let controller = self.clone();
        tokio::spawn(async move { controller.run_scheduler(alarms, commands).await });
        Ok(())
    }

    /// Brings `alarms` in line with the store: alarms another controller made, changed (a
    /// fire, a pause) or deleted. An alarm whose document is the one this controller knows
    /// keeps its schedule.
    async fn reload_alarms(&self, alarms: &mut HashMap<EntityPath, Entry>) -> Result<()> {
        let records = self
            .inner
            .entities
            .store()
            .list_feeds(PROVIDER.into())
            .await?;
        let mut stored = HashMap::new();
        for record in records {
            if alarms
                .get(&record.trigger)
                .is_some_and(|e| e.doc == record.doc)
            {
                stored.insert(
                    record.trigger.clone(),
                    alarms.remove(&record.trigger).unwrap(),
                );
                continue;
            }
            match serde_json::from_str::<Alarm>(&record.doc) {
                Ok(alarm) => {
                    let next = resumed(&alarm);
                    let entry = Entry {
                        alarm,
                        next,
                        doc: record.doc,
                    };
                    stored.insert(record.trigger, entry);
                }
                Err(e) => {
                    tracing::error!(trigger = %record.trigger, error = %e, "unreadable alarm skipped")
                }
            }
        }
        *alarms = stored;
        Ok(())
    }

    async fn run_scheduler(
        self,
        mut alarms: HashMap<EntityPath, Entry>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut reloaded = now_ms();
        loop {
            if now_ms().saturating_sub(reloaded) >= MAX_SLEEP.as_millis() as u64 {
                if let Err(e) = self.reload_alarms(&mut alarms).await {
                    tracing::warn!(error = %e, "the alarms could not be reloaded");
                }
                reloaded = now_ms();
            }
            let now = now_ms();
            let due: Vec<EntityPath> = alarms
                .iter()
                .filter(|(_, e)| e.next.is_some_and(|n| n <= now))
                .map(|(t, _)| t.clone())
                .collect();
            for trigger in due {
                self.fire_alarm(&mut alarms, trigger).await;
            }
            let sleep = alarms
                .values()
                .filter_map(|e| e.next)
                .min()
                .map_or(MAX_SLEEP, |n| {
                    Duration::from_millis(n.saturating_sub(now_ms())).min(MAX_SLEEP)
                });
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.apply(&mut alarms, command).await,
                    None => return,
                },
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    async fn apply(&self, alarms: &mut HashMap<EntityPath, Entry>, command: Command) {
        match command {
            Command::Get { trigger, reply } => {
                let _ = reply.send(alarms.get(&trigger).map(|e| e.alarm.clone()));
            }
            Command::Edit {
                trigger,
                edit,
                reply,
            } => {
                let result = match edit(alarms.get(&trigger).map(|e| &e.alarm)) {
                    Ok(new) => self.store_alarm(alarms, &trigger, new).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
        }
    }

    /// Writes an alarm (or its removal) and only then changes the schedule.
    async fn store_alarm(
        &self,
        alarms: &mut HashMap<EntityPath, Entry>,
        trigger: &EntityPath,
        alarm: Option<Alarm>,
    ) -> Result<Option<Alarm>> {
        let store = &self.inner.entities.store();
        match alarm {
            Some(alarm) => {
                let doc = serde_json::to_string(&alarm).expect("alarms serialise");
                store
                    .put_feed(FeedRecord {
                        provider: PROVIDER.into(),
                        trigger: trigger.clone(),
                        doc: doc.clone(),
                    })
                    .await?;
                let next = live_next(&alarm, now_ms());
                alarms.insert(
                    trigger.clone(),
                    Entry {
                        alarm: alarm.clone(),
                        next,
                        doc,
                    },
                );
                Ok(Some(alarm))
            }
            None => {
                store.delete_feed(trigger.clone()).await?;
                alarms.remove(trigger);
                Ok(None)
            }
        }
    }

    /// Fires one due alarm as its namespace's owner, once its tick is claimed (the claim
    /// records the fire and schedules the next). A trigger or namespace that no longer exists
    /// ends the alarm; a tick another controller claimed is left to it.
    async fn fire_alarm(&self, alarms: &mut HashMap<EntityPath, Entry>, trigger: EntityPath) {
        let Some(entry) = alarms.get(&trigger) else {
            return;
        };
        let payload = entry.alarm.payload.clone();
        let owner = match self
            .entities()
            .identity_of_namespace(&trigger.namespace)
            .await
        {
            Ok(Some(owner)) => owner,
            Ok(None) => return self.end_alarm(alarms, &trigger).await,
            Err(e) => return self.retry_later(alarms, &trigger, e),
        };
        match self.claim_tick(alarms, &trigger).await {
            Ok(true) => {}
            Ok(false) => {
                // Another controller fired this tick, or changed the alarm: take its version.
                if let Err(e) = self.reload_alarms(alarms).await {
                    self.retry_later(alarms, &trigger, e);
                }
                return;
            }
            Err(e) => return self.retry_later(alarms, &trigger, e),
        }
        let fired = self
            .fire_trigger(
                &owner,
                &trigger,
                payload,
                Map::new(),
                ActivationId::generate().to_string(),
            )
            .await;
        match fired {
            Ok(_) => {}
            Err(ControllerError::NotFound) => self.end_alarm(alarms, &trigger).await,
            // Over the fire quota, say: this fire is skipped, the schedule goes on.
            Err(e) => tracing::warn!(%trigger, error = %e, "an alarm could not fire its trigger"),
        }
    }

    /// Records a fire of the alarm now, if its stored document is still the one this
    /// controller knows; whether it was.
    async fn claim_tick(
        &self,
        alarms: &mut HashMap<EntityPath, Entry>,
        trigger: &EntityPath,
    ) -> Result<bool> {
        let Some(entry) = alarms.get_mut(trigger) else {
            return Ok(false);
        };
        let now = now_ms();
        let mut alarm = entry.alarm.clone();
        alarm.last_fired = Some(now);
        let doc = serde_json::to_string(&alarm).expect("alarms serialise");
        let record = FeedRecord {
            provider: PROVIDER.into(),
            trigger: trigger.clone(),
            doc: doc.clone(),
        };
        let store = self.inner.entities.store();
        if !store.claim_feed(record, entry.doc.clone()).await? {
            return Ok(false);
        }
        entry.next = live_next(&alarm, now);
        entry.alarm = alarm;
        entry.doc = doc;
        Ok(true)
    }

    async fn end_alarm(&self, alarms: &mut HashMap<EntityPath, Entry>, trigger: &EntityPath) {
        tracing::info!(%trigger, "the trigger of an alarm is gone; the alarm ends");
        if let Err(e) = self.store_alarm(alarms, trigger, None).await {
            tracing::error!(%trigger, error = %e, "an ended alarm could not be removed");
            alarms.remove(trigger);
        }
    }

    fn retry_later(
        &self,
        alarms: &mut HashMap<EntityPath, Entry>,
        trigger: &EntityPath,
        e: ControllerError,
    ) {
        tracing::error!(%trigger, error = %e, "an alarm could not fire; retrying in a minute");
        if let Some(entry) = alarms.get_mut(trigger) {
            entry.next = Some(now_ms() + 60_000);
        }
    }
}

/// The next fire of a live alarm after `t`; `None` when paused or done.
fn live_next(alarm: &Alarm, t: u64) -> Option<u64> {
    if alarm.paused {
        None
    } else {
        alarm.next_after(t)
    }
}

/// Where a stored alarm stands after a restart: a fire missed during the downtime is due now.
/// (The loop fires anything due at or before now, once, and then schedules from now.)
fn resumed(alarm: &Alarm) -> Option<u64> {
    live_next(alarm, alarm.last_fired.unwrap_or(alarm.created))
}

fn stopped() -> ControllerError {
    ControllerError::Unavailable("The alarm scheduler is not running.".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::alarm::{Schedule, Shape};
    use serde_json::json;

    #[test]
    fn a_fire_missed_while_down_is_due_at_once_and_only_once() {
        let created = 1_900_000_000_000;
        let mut alarm = Alarm::from_params(
            Shape::Interval,
            json!({"minutes": 1}).as_object().unwrap(),
            created,
        )
        .unwrap();
        assert_eq!(alarm.schedule, Schedule::Interval { minutes: 1 });
        // Down for ten minutes: the first missed fire is due (the loop fires it at once), and
        // after a fire at `now` the next is a whole interval on, so ten missed fires become one.
        let now = created + 600_000;
        assert_eq!(resumed(&alarm), Some(created + 60_000));
        alarm.last_fired = Some(now);
        assert_eq!(resumed(&alarm), Some(created + 660_000));
        alarm.paused = true;
        assert_eq!(resumed(&alarm), None);
    }
}
