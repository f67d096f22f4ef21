//! The order a deploy writes actions in: everything with code first, then sequences, each
//! after the sequences it names (a sequence's components must exist when it is written).

use crate::error::ProjectError;
use crate::model::{Action, Project, Source};
use crate::put::qualify;

/// The project's actions in a safe order to write them; a cycle of sequences is refused.
pub fn deploy_order<'a>(
    project: &'a Project,
    namespace: &str,
) -> Result<Vec<&'a Action>, ProjectError> {
    let all: Vec<&Action> = project.packages.iter().flat_map(|p| &p.actions).collect();
    let (sequences, mut ordered): (Vec<&Action>, Vec<&Action>) = all
        .into_iter()
        .partition(|a| matches!(a.source, Source::Sequence { .. }));
    let full = |a: &Action| qualify(&a.path(), None, namespace);
    let mut pending = sequences;
    while !pending.is_empty() {
        let waiting: Vec<String> = pending.iter().map(|a| full(a)).collect();
        let (ready, blocked): (Vec<&Action>, Vec<&Action>) = pending.into_iter().partition(|a| {
            let Source::Sequence { components } = &a.source else {
                unreachable!()
            };
            components
                .iter()
                .map(|c| qualify(c, a.package.as_deref(), namespace))
                .all(|c| !waiting.contains(&c))
        });
        if ready.is_empty() {
            let names: Vec<String> = blocked.iter().map(|a| a.path()).collect();
            return Err(ProjectError::Config(format!(
                "sequences {} name each other in a cycle",
                names.join(", ")
            )));
        }
        ordered.extend(ready);
        pending = blocked;
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn sequences_come_after_what_they_name() {
        let dir = TempDir::new();
        dir.file("packages/p/a.js", "x");
        dir.file(
            "project.yml",
            "packages:\n  - name: p\n    actions:\n      - name: outer\n        sequence: [inner, a]\n\
             \x20     - name: inner\n        sequence: [a]\n",
        );
        let project = crate::read(dir.path(), &crate::Variables::default()).unwrap();
        let order: Vec<String> = deploy_order(&project, "guest")
            .unwrap()
            .iter()
            .map(|a| a.path())
            .collect();
        assert_eq!(order, ["p/a", "p/inner", "p/outer"]);
    }

    #[test]
    fn cycles_are_refused() {
        let dir = TempDir::new();
        dir.file(
            "project.yml",
            "packages:\n  - name: p\n    actions:\n      - name: x\n        sequence: [y]\n\
             \x20     - name: y\n        sequence: [x]\n",
        );
        let project = crate::read(dir.path(), &crate::Variables::default()).unwrap();
        let err = deploy_order(&project, "guest").unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
    }
}
