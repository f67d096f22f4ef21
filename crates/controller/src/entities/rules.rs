//! Rules: links from a trigger to an action. A rule's status lives in its trigger's `rules`
//! map (as in OpenWhisk), so every rule write also writes the trigger, in one atomic batch.

use serde_json::Value;
use std::future::Future;

use wisp_core::time::after;
use wisp_core::{
    Annotations, EntityPath, Identity, Revision, Rule, RuleLink, RuleStatus, SemVer, Trigger,
};
use wisp_store::{Expect, Write};

use super::Entities;
use crate::names::parse_fully_qualified;
use crate::{ControllerError, Result};

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

impl Entities {
    pub async fn put_rule(
        &self,
        identity: &Identity,
        path: EntityPath,
        put: RulePut,
        overwrite: bool,
    ) -> Result<RuleView> {
        retrying(|| self.try_put_rule(identity, &path, &put, overwrite)).await
    }

    async fn try_put_rule(
        &self,
        identity: &Identity,
        path: &EntityPath,
        put: &RulePut,
        overwrite: bool,
    ) -> Result<RuleView> {
        let store = &self.store;
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

        let revision = Revision::next(old, put.version, put.publish);
        let rule = Rule {
            version: revision.version,
            publish: revision.publish,
            annotations: match &put.annotations {
                Some(a) => Annotations(a.clone()),
                None => old.map_or_else(Annotations::default, |r| r.annotations.clone()),
            },
            trigger: trigger_path.clone(),
            action: action_path.clone(),
            updated: revision.updated,
            path: path.clone(),
        };
        let key = rule.link_key();
        let mut writes = Vec::new();
        // An update keeps the status the rule had, moving its link if the trigger changed; a new
        // rule starts active.
        let kept = match old {
            None => None,
            Some(old) if old.trigger == trigger_path => trigger.rules.get(&key).map(|l| l.status),
            Some(old) => match store.get_entity::<Trigger>(&old.trigger).await? {
                Some(mut previous) => {
                    let link = previous.rules.remove(&key);
                    let expect = touch(&mut previous);
                    writes.push(Write::put(&previous, expect)?);
                    link.map(|l| l.status)
                }
                None => None,
            },
        };
        let status = kept.unwrap_or(RuleStatus::Active);
        trigger.rules.insert(
            key,
            RuleLink {
                action: action_path,
                status,
            },
        );
        let expect = touch(&mut trigger);
        writes.push(Write::put(&trigger, expect)?);
        writes.push(Write::put(&rule, Expect::replacing(old))?);
        store.apply(writes).await?;
        Ok(RuleView { rule, status })
    }

    pub async fn get_rule(&self, path: &EntityPath) -> Result<RuleView> {
        let rule = self
            .store
            .get_entity::<Rule>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let status = self.rule_status(&rule).await?;
        Ok(RuleView { rule, status })
    }

    /// The status a rule's trigger gives it; `inactive` when the trigger is gone.
    async fn rule_status(&self, rule: &Rule) -> Result<RuleStatus> {
        let trigger = self.store.get_entity::<Trigger>(&rule.trigger).await?;
        Ok(trigger
            .and_then(|t| t.rules.get(&rule.link_key()).map(|l| l.status))
            .unwrap_or(RuleStatus::Inactive))
    }

    pub async fn delete_rule(&self, path: &EntityPath) -> Result<RuleView> {
        retrying(|| self.try_delete_rule(path)).await
    }

    async fn try_delete_rule(&self, path: &EntityPath) -> Result<RuleView> {
        let store = &self.store;
        let rule = store
            .get_entity::<Rule>(path)
            .await?
            .ok_or(ControllerError::NotFound)?;
        let mut writes = vec![Write::delete::<Rule>(path)];
        if let Some(mut trigger) = store.get_entity::<Trigger>(&rule.trigger).await? {
            if trigger.rules.remove(&rule.link_key()).is_some() {
                let expect = touch(&mut trigger);
                writes.push(Write::put(&trigger, expect)?);
            }
        }
        store.apply(writes).await?;
        Ok(RuleView {
            rule,
            status: RuleStatus::Inactive,
        })
    }

    /// Enables or disables a rule; setting the status it already has is a no-op.
    pub async fn set_rule_status(&self, path: &EntityPath, status: RuleStatus) -> Result<()> {
        retrying(|| self.try_set_rule_status(path, status)).await
    }

    async fn try_set_rule_status(&self, path: &EntityPath, status: RuleStatus) -> Result<()> {
        let store = &self.store;
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
        let expect = touch(&mut trigger);
        store.put_entity(&trigger, expect).await?;
        Ok(())
    }
}

/// Runs a read-modify-write again when the entity changed between its read and its write.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    for _ in 1..RETRIES {
        match attempt().await {
            Err(ControllerError::Modified) => continue,
            other => return other,
        }
    }
    attempt().await
}

/// Stamps a trigger as written now; returns what the store must still find: the version read.
fn touch(trigger: &mut Trigger) -> Expect {
    let read = trigger.updated;
    trigger.updated = after(Some(read));
    Expect::Updated(read)
}
