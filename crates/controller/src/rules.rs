//! Rules: links from a trigger to an action. A rule's status lives in its trigger's `rules`
//! map (as in OpenWhisk), so every rule write also writes the trigger, in one atomic batch.

use serde_json::Value;
use wisp_core::time::now_ms;
use wisp_core::{Annotations, EntityPath, Identity, Rule, RuleLink, RuleStatus, SemVer, Trigger};
use wisp_store::{Expect, Page, StoreError, Write};

use crate::names::parse_fully_qualified;
use crate::{Controller, ControllerError, Result};

/// How often a rule write is retried when its trigger changed under it.
const RETRIES: usize = 5;

/// The body of `PUT /rules/{name}`.
#[derive(Debug, Clone, Default)]
pub struct RulePut {
    pub trigger: Option<String>,
    pub action: Option<String>,
    pub annotations: Option<Vec<(String, Value)>>,
    pub version: Option<SemVer>,
    pub publish: Option<bool>,
}

/// A rule with the status its trigger gives it.
pub struct RuleView {
    pub rule: Rule,
    pub status: RuleStatus,
}

impl Controller {
    pub async fn put_rule(
        &self,
        identity: &Identity,
        path: EntityPath,
        put: RulePut,
        overwrite: bool,
    ) -> Result<RuleView> {
        for _ in 0..RETRIES {
            match self.try_put_rule(identity, &path, &put, overwrite).await {
                Err(ControllerError::Conflict(m)) if m == StoreError::Modified.to_string() => {
                    continue
                }
                other => return other,
            }
        }
        Err(ControllerError::Conflict(StoreError::Modified.to_string()))
    }

    async fn try_put_rule(
        &self,
        identity: &Identity,
        path: &EntityPath,
        put: &RulePut,
        overwrite: bool,
    ) -> Result<RuleView> {
        let store = &self.inner.entities;
        let existing = store.get_entity::<Rule>(path).await?;
        if existing.is_some() && !overwrite {
            return Err(ControllerError::Conflict("resource already exists".into()));
        }
        let old = existing.as_ref();
        let invalid = || {
            ControllerError::BadRequest("rule requires a valid trigger and a valid action".into())
        };
        let name = |raw: &Option<String>, current: Option<&EntityPath>| match raw {
            Some(raw) => parse_fully_qualified(raw, &identity.namespace)
                .map(Some)
                .map_err(|_| invalid()),
            None => Ok(current.cloned()),
        };
        let trigger_path = name(&put.trigger, old.map(|r| &r.trigger))?.ok_or_else(invalid)?;
        let action_path = name(&put.action, old.map(|r| &r.action))?.ok_or_else(invalid)?;
        self.entitle(identity, &trigger_path.namespace, &trigger_path.relative())?;

        let mut trigger = store
            .get_entity::<Trigger>(&trigger_path)
            .await?
            .ok_or_else(|| {
                ControllerError::BadRequest(format!("trigger {trigger_path} does not exist"))
            })?;
        match self.resolve_action(identity, &action_path).await {
            Ok(_) => {}
            Err(ControllerError::NotFound) => {
                return Err(ControllerError::BadRequest(format!(
                    "action {action_path} does not exist"
                )))
            }
            Err(e) => return Err(e),
        }

        let rule = Rule {
            version: put
                .version
                .unwrap_or_else(|| old.map_or(SemVer::INITIAL, |r| r.version.bump_patch())),
            publish: put
                .publish
                .unwrap_or_else(|| old.is_some_and(|r| r.publish)),
            annotations: match &put.annotations {
                Some(a) => Annotations(a.clone()),
                None => old.map_or_else(Annotations::default, |r| r.annotations.clone()),
            },
            trigger: trigger_path.clone(),
            action: action_path.clone(),
            updated: old.map_or_else(now_ms, |r| now_ms().max(r.updated + 1)),
            path: path.clone(),
        };
        let key = rule.link_key();
        let mut writes = Vec::new();
        // An update keeps the status the rule had; a new rule starts active.
        let mut status = RuleStatus::Active;
        if let Some(old) = old {
            if let Some(mut previous) = store.get_entity::<Trigger>(&old.trigger).await? {
                if let Some(link) = previous.rules.remove(&key) {
                    status = link.status;
                }
                if previous.path != trigger.path {
                    let read = previous.updated;
                    previous.updated = now_ms().max(read + 1);
                    writes.push(Write::put(&previous, Expect::Updated(read))?);
                }
            }
        }
        let read = trigger.updated;
        trigger.rules.insert(
            key,
            RuleLink {
                action: action_path,
                status,
            },
        );
        trigger.updated = now_ms().max(read + 1);
        writes.push(Write::put(&trigger, Expect::Updated(read))?);
        let expect = old.map_or(Expect::Absent, |r| Expect::Updated(r.updated));
        writes.push(Write::put(&rule, expect)?);
        store.apply(writes).await?;
        Ok(RuleView { rule, status })
    }

    pub async fn get_rule(&self, path: &EntityPath) -> Result<RuleView> {
        let rule = self
            .inner
            .entities
            .get_entity::<Rule>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let status = self.rule_status(&rule).await?;
        Ok(RuleView { rule, status })
    }

    /// The status a rule's trigger gives it; `inactive` when the trigger is gone.
    async fn rule_status(&self, rule: &Rule) -> Result<RuleStatus> {
        let trigger = self
            .inner
            .entities
            .get_entity::<Trigger>(&rule.trigger)
            .await?;
        Ok(trigger
            .and_then(|t| t.rules.get(&rule.link_key()).map(|l| l.status))
            .unwrap_or(RuleStatus::Inactive))
    }

    pub async fn delete_rule(&self, path: &EntityPath) -> Result<RuleView> {
        for _ in 0..RETRIES {
            let store = &self.inner.entities;
            let rule = store
                .get_entity::<Rule>(path)
                .await?
                .ok_or(ControllerError::NotFound)?;
            let mut writes = vec![Write::delete::<Rule>(path)];
            if let Some(mut trigger) = store.get_entity::<Trigger>(&rule.trigger).await? {
                if trigger.rules.remove(&rule.link_key()).is_some() {
                    let read = trigger.updated;
                    trigger.updated = now_ms().max(read + 1);
                    writes.push(Write::put(&trigger, Expect::Updated(read))?);
                }
            }
            match store.apply(writes).await {
                Err(StoreError::Modified) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {
                    return Ok(RuleView {
                        rule,
                        status: RuleStatus::Inactive,
                    })
                }
            }
        }
        Err(ControllerError::Conflict(StoreError::Modified.to_string()))
    }

    /// Enables or disables a rule; setting the status it already has is a no-op.
    pub async fn set_rule_status(&self, path: &EntityPath, status: RuleStatus) -> Result<()> {
        for _ in 0..RETRIES {
            let store = &self.inner.entities;
            let rule = store
                .get_entity::<Rule>(path)
                .await?
                .ok_or(ControllerError::NotFound)?;
            let Some(mut trigger) = store.get_entity::<Trigger>(&rule.trigger).await? else {
                return Err(ControllerError::Missing(
                    "Only rules with existing triggers can be activated".into(),
                ));
            };
            let key = rule.link_key();
            if trigger.rules.get(&key).map(|l| l.status) == Some(status) {
                return Ok(());
            }
            trigger.rules.insert(
                key,
                RuleLink {
                    action: rule.action.clone(),
                    status,
                },
            );
            let read = trigger.updated;
            trigger.updated = now_ms().max(read + 1);
            match store.put_entity(&trigger, Expect::Updated(read)).await {
                Err(StoreError::Modified) => continue,
                other => return Ok(other?),
            }
        }
        Err(ControllerError::Conflict(StoreError::Modified.to_string()))
    }

    pub async fn list_rules(&self, identity: &Identity, page: Page) -> Result<Vec<Rule>> {
        Ok(self
            .inner
            .entities
            .list_entities::<Rule>(&identity.namespace, None, page)
            .await?)
    }

    pub async fn count_rules(&self, identity: &Identity) -> Result<u64> {
        Ok(self
            .inner
            .entities
            .count_entities::<Rule>(&identity.namespace, None)
            .await?)
    }
}
