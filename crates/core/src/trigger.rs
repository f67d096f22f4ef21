//! Triggers and rules: named event channels, and the links that run an action when one fires.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Annotations, EntityPath, Parameter, SemVer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub path: EntityPath,
    pub version: SemVer,
    pub publish: bool,
    pub parameters: Vec<Parameter>,
    pub annotations: Annotations,
    /// The rules that fire from this trigger, by `ns/rule`. As in OpenWhisk, a rule's status
    /// lives here, so a fire reads one document.
    pub rules: BTreeMap<String, RuleLink>,
    pub updated: u64,
}

/// A rule as its trigger sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleLink {
    pub action: EntityPath,
    pub status: RuleStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Active,
    Inactive,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Active => "active",
            RuleStatus::Inactive => "inactive",
        }
    }

    pub fn parse(raw: &str) -> Option<RuleStatus> {
        match raw {
            "active" => Some(RuleStatus::Active),
            "inactive" => Some(RuleStatus::Inactive),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub path: EntityPath,
    pub version: SemVer,
    pub publish: bool,
    pub annotations: Annotations,
    pub trigger: EntityPath,
    pub action: EntityPath,
    pub updated: u64,
}

impl Rule {
    /// The key of this rule in its trigger's `rules`.
    pub fn link_key(&self) -> String {
        self.path.relative()
    }
}

crate::entity::entity!(Trigger, Triggers);

crate::entity::entity!(Rule, Rules);
