//! The vocabulary of Wisp: names, actions, kinds, limits, parameters and activations.
//!
//! This crate does no IO and knows nothing of HTTP, SQL or processes. The JSON shapes of the
//! public API live in `wisp-api` (`wire`), converted at that boundary; the serde derives here
//! describe only the storage documents that `wisp-store` writes.

pub mod action;
pub mod activation;
pub mod cron;
pub mod declared_state;
pub mod entity;
pub mod identity;
pub mod invoke;
pub mod kind;
pub mod limits;
pub mod names;
pub mod package;
pub mod params;
pub mod site;
pub mod time;
pub mod trigger;
pub mod version;

pub use action::{Action, BuiltinExec, CodeExec, Exec, SequenceExec};
pub use activation::{Activation, ActivationId, ActivationResponse, Outcome};
pub use entity::{Collection, Entity, Revision};
pub use identity::Identity;
pub use invoke::BoxFuture;
pub use kind::Kind;
pub use limits::{ActionLimits, LimitError, NamespaceLimits, SystemLimits, Throttles};
pub use names::{EntityName, EntityPath, NameError};
pub use package::{Package, PackageRef};
pub use params::{Annotations, Parameter};
pub use trigger::{Rule, RuleLink, RuleStatus, Trigger};
pub use version::SemVer;
