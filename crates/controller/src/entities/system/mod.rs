//! The `whisk.system` namespace and the packages every Wisp server ships in it, published so
//! every namespace can use and bind them:
//!
//! - `utils`: small Node.js actions to chain in sequences (echo, cat, split, sort, head, date);
//! - `alarms`: the feeds `alarm` (cron), `once` (a date) and `interval` (minutes), builtins the
//!   controller runs itself (see `feeds`).
//!
//! Installed at every start and rewritten only where the shipped version differs, so a newer
//! server updates them and an unchanged one writes nothing.

use serde_json::{json, Value};
use wisp_core::{
    Action, Annotations, BuiltinExec, CodeExec, Entity, EntityName, EntityPath, Exec, Kind,
    Package, Revision,
};
use wisp_store::Expect;

use super::Entities;
use crate::Result;

/// The system namespace, as in OpenWhisk.
pub const NAMESPACE: &str = "whisk.system";

const UTILS: [(&str, &str, &str); 6] = [
    ("echo", include_str!("utils/echo.js"), "Returns the input"),
    (
        "cat",
        include_str!("utils/cat.js"),
        "Concatenates input into a string",
    ),
    (
        "split",
        include_str!("utils/split.js"),
        "Split a string into an array",
    ),
    ("sort", include_str!("utils/sort.js"), "Sorts an array"),
    (
        "head",
        include_str!("utils/head.js"),
        "Extract prefix of an array",
    ),
    (
        "date",
        include_str!("utils/date.js"),
        "Current date and time",
    ),
];

const ALARMS: [(&str, &str, &[&str]); 3] = [
    (
        "alarm",
        "Fire the trigger on a cron schedule (5 fields, or 6 with seconds first; UTC)",
        &["cron", "trigger_payload", "startDate", "stopDate"],
    ),
    (
        "once",
        "Fire the trigger once, at a date (ISO 8601 or epoch milliseconds)",
        &["date", "trigger_payload"],
    ),
    (
        "interval",
        "Fire the trigger every so many minutes",
        &["minutes", "trigger_payload", "startDate", "stopDate"],
    ),
];

impl Entities {
    /// Makes sure `whisk.system` has an owner key and the shipped packages.
    pub async fn install_system_packages(&self) -> Result<()> {
        let namespace = EntityName::parse(NAMESPACE).expect("a valid namespace");
        if self.identity_of_namespace(&namespace).await?.is_none() {
            crate::add_key(self.store.as_ref(), namespace.clone(), None).await?;
            self.owners.remove(&namespace);
        }
        let path = |package: &str, name: Option<&str>| {
            let package = EntityName::parse(package).expect("a valid name");
            match name {
                Some(name) => EntityPath::new(
                    namespace.clone(),
                    Some(package),
                    EntityName::parse(name).expect("a valid name"),
                ),
                None => EntityPath::new(namespace.clone(), None, package),
            }
        };

        self.install_package(
            path("utils", None),
            "Building blocks that format and assemble data",
        )
        .await?;
        for (name, code, description) in UTILS {
            let exec = Exec::Code(CodeExec::new(Kind::Nodejs20, code.to_string(), None));
            let annotations = annotations(&[("description", json!(description))]);
            self.install_action(path("utils", Some(name)), exec, annotations)
                .await?;
        }

        self.install_package(
            path("alarms", None),
            "Alarms and periodic utility: feeds that fire a trigger on a schedule",
        )
        .await?;
        for (name, description, params) in ALARMS {
            let exec = Exec::Builtin(BuiltinExec {
                builtin: format!("alarms/{name}"),
            });
            let params: Vec<Value> = params.iter().map(|p| json!({"name": p})).collect();
            let annotations = annotations(&[
                ("feed", json!(true)),
                ("description", json!(description)),
                ("parameters", Value::Array(params)),
            ]);
            self.install_action(path("alarms", Some(name)), exec, annotations)
                .await?;
        }
        Ok(())
    }

    async fn install_package(&self, path: EntityPath, description: &str) -> Result<()> {
        let store = &self.store;
        let old = store.get_entity::<Package>(&path).await?;
        let annotations = annotations(&[("description", json!(description))]);
        if old
            .as_ref()
            .is_some_and(|p| p.publish && p.binding.is_none() && p.annotations == annotations)
        {
            return Ok(());
        }
        let revision = Revision::next(old.as_ref(), None, Some(true));
        let package = Package {
            path,
            version: revision.version,
            publish: true,
            parameters: Vec::new(),
            annotations,
            binding: None,
            updated: revision.updated,
        };
        store
            .put_entity(&package, Expect::replacing(old.as_ref()))
            .await?;
        self.packages.remove(package.path());
        Ok(())
    }

    async fn install_action(
        &self,
        path: EntityPath,
        exec: Exec,
        mut annotations: Annotations,
    ) -> Result<()> {
        annotations.set("exec", Value::from(exec.kind_name()));
        annotations.set("provide-api-key", Value::Bool(false));
        let store = &self.store;
        let old = store.get_entity::<Action>(&path).await?;
        if old
            .as_ref()
            .is_some_and(|a| a.exec == exec && a.annotations == annotations)
        {
            return Ok(());
        }
        let revision = Revision::next(old.as_ref(), None, Some(false));
        let action = Action {
            path,
            version: revision.version,
            publish: false,
            exec,
            parameters: Vec::new(),
            annotations,
            limits: self.limits().defaults,
            updated: revision.updated,
        };
        store
            .put_entity(&action, Expect::replacing(old.as_ref()))
            .await?;
        self.actions.remove(action.path());
        Ok(())
    }
}

fn annotations(pairs: &[(&str, Value)]) -> Annotations {
    Annotations(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}
