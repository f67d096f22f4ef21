//! The plan of a deploy, pure: each entity of the project against what the server holds, by
//! the digest recorded in its `deployer` annotation.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use wisp_project::put::{stamp_of, Stamped, DEPLOYER};
use wisp_wire::{Action, Package};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Unchanged,
    /// Deployed by this project earlier, gone from it: deleted with `--prune`.
    Delete,
    /// The same, without `--prune`: left as it is, and said so.
    Keep,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Unchanged => "unchanged",
            Change::Delete => "delete",
            Change::Keep => "keep",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    Package,
    Action,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so a width in the format string lines the plan up.
        f.pad(match self {
            Entity::Package => "package",
            Entity::Action => "action",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub change: Change,
    pub entity: Entity,
    /// `pkg/name` or `name` for actions, the name for packages.
    pub name: String,
    /// What to send, for creates and updates.
    pub body: Option<Value>,
}

/// What the server holds: our `deployer` annotation's project and digest per entity name
/// (`None` for an entity that has none, or another tool's).
pub type Deployed = BTreeMap<(Entity, String), Option<(String, String)>>;

/// Reads the server's listings into `Deployed`.
pub fn deployed(packages: &[Package], actions: &[Action]) -> Deployed {
    let mut out = Deployed::new();
    let stamp = |annotation: Option<&Value>| {
        let (project, digest) = stamp_of(annotation?)?;
        Some((project.to_string(), digest.to_string()))
    };
    for package in packages {
        // Bindings are packages of someone else's actions: never ours to manage.
        if package.binding.target().is_some() || package.name.is_empty() {
            continue;
        }
        let name = package.name.clone();
        out.insert((Entity::Package, name), stamp(package.annotation(DEPLOYER)));
    }
    for action in actions {
        if action.name.is_empty() {
            continue;
        }
        let name = &action.name;
        // `namespace` is `ns` or `ns/pkg`.
        let path = match action.namespace.split_once('/') {
            Some((_, package)) => format!("{package}/{name}"),
            None => name.clone(),
        };
        out.insert((Entity::Action, path), stamp(action.annotation(DEPLOYER)));
    }
    out
}

/// The steps of a deploy in the order they are applied: packages, then actions in the order
/// given (code before sequences), then deletions (actions before their packages).
pub fn plan(
    project: &str,
    packages: Vec<(String, Stamped)>,
    actions: Vec<(String, Stamped)>,
    server: &Deployed,
    prune: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut wanted = Vec::new();
    for (entity, list) in [(Entity::Package, packages), (Entity::Action, actions)] {
        for (name, stamped) in list {
            let key = (entity, name.clone());
            let change = match server.get(&key) {
                None => Change::Create,
                Some(Some((p, digest))) if p == project && *digest == stamped.digest => {
                    Change::Unchanged
                }
                Some(_) => Change::Update,
            };
            wanted.push(key);
            let body = matches!(change, Change::Create | Change::Update).then_some(stamped.body);
            steps.push(Step {
                change,
                entity,
                name,
                body,
            });
        }
    }
    // Ours and no longer in the project; actions sort before packages.
    let mut gone: Vec<&(Entity, String)> = server
        .iter()
        .filter(|(key, stamp)| {
            !wanted.contains(key) && stamp.as_ref().is_some_and(|(p, _)| p == project)
        })
        .map(|(key, _)| key)
        .collect();
    gone.sort_by_key(|(entity, name)| (std::cmp::Reverse(*entity), name.clone()));
    for (entity, name) in gone {
        steps.push(Step {
            change: if prune { Change::Delete } else { Change::Keep },
            entity: *entity,
            name: name.clone(),
            body: None,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use super::*;
    use crate::output::document;

    fn stamped(digest: &str) -> Stamped {
        Stamped {
            body: json!({"digest": digest}),
            digest: digest.into(),
        }
    }

    fn on_server<T: DeserializeOwned + Default>(
        name: &str,
        namespace: &str,
        project: &str,
        digest: &str,
    ) -> T {
        document(
            &json!({"name": name, "namespace": namespace, "annotations": [
                {"key": "deployer", "value": {"tool": "wisp", "project": project, "digest": digest}}
            ]}),
        )
    }

    #[test]
    fn entities_are_created_updated_or_left_by_digest() {
        let server = deployed(
            &[on_server("demo", "guest", "app", "p1")],
            &[
                on_server("same", "guest/demo", "app", "d1"),
                on_server("changed", "guest/demo", "app", "d2"),
                on_server("theirs", "guest", "other", "d3"),
                document(&json!({"name": "plain", "namespace": "guest", "annotations": []})),
            ],
        );
        let steps = plan(
            "app",
            vec![("demo".into(), stamped("p1"))],
            vec![
                ("demo/same".into(), stamped("d1")),
                ("demo/changed".into(), stamped("new")),
                ("theirs".into(), stamped("d3")),
                ("plain".into(), stamped("x")),
                ("fresh".into(), stamped("y")),
            ],
            &server,
            false,
        );
        let changes: Vec<(Change, &str, bool)> = steps
            .iter()
            .map(|s| (s.change, s.name.as_str(), s.body.is_some()))
            .collect();
        assert_eq!(
            changes,
            [
                (Change::Unchanged, "demo", false),
                (Change::Unchanged, "demo/same", false),
                (Change::Update, "demo/changed", true),
                (Change::Update, "theirs", true),
                (Change::Update, "plain", true),
                (Change::Create, "fresh", true),
            ]
        );
    }

    #[test]
    fn only_our_removed_entities_are_pruned_actions_first() {
        let server = deployed(
            &[
                on_server("old", "guest", "app", "p"),
                on_server("kept", "guest", "other", "p"),
            ],
            &[
                on_server("x", "guest/old", "app", "d"),
                on_server("y", "guest", "other", "d"),
            ],
        );
        let pruned: Vec<(Change, Entity, String)> = plan("app", vec![], vec![], &server, true)
            .into_iter()
            .map(|s| (s.change, s.entity, s.name))
            .collect();
        assert_eq!(
            pruned,
            [
                (Change::Delete, Entity::Action, "old/x".to_string()),
                (Change::Delete, Entity::Package, "old".to_string()),
            ]
        );
        let kept = plan("app", vec![], vec![], &server, false);
        assert!(kept.iter().all(|s| s.change == Change::Keep));
    }

    #[test]
    fn bindings_are_never_ours() {
        let mut binding: Package = on_server("b", "guest", "app", "p");
        binding.binding = document(&json!({"namespace": "x", "name": "y"}));
        assert!(deployed(&[binding], &[]).is_empty());
    }
}
