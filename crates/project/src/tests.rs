//! Reading whole projects: the tree and project.yml merged.

use serde_json::json;

use super::*;
use crate::test_support::TempDir;

fn vars(pairs: &[(&str, &str)]) -> Variables {
    Variables {
        process: Default::default(),
        file: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn action<'a>(project: &'a Project, path: &str) -> &'a Action {
    project
        .packages
        .iter()
        .flat_map(|p| &p.actions)
        .find(|a| a.path() == path)
        .unwrap_or_else(|| panic!("no action {path}"))
}

#[test]
fn a_bare_tree_deploys_with_no_configuration() {
    let dir = TempDir::new();
    dir.file("packages/default/hello.js", "function main() {}");
    dir.file("packages/tools/add.py", "def main(a): return a");
    let project = read(dir.path(), &Variables::default()).unwrap();
    let hello = action(&project, "hello");
    assert_eq!(hello.package, None);
    assert_eq!(hello.kind.as_deref(), Some("nodejs:default"));
    assert_eq!(
        hello.annotations["web-export"],
        json!(true),
        "web by default"
    );
    let add = action(&project, "tools/add");
    assert_eq!(add.kind.as_deref(), Some("python:default"));
    assert!(project
        .packages
        .iter()
        .any(|p| p.name == "tools" && !p.is_default));
}

#[test]
fn configuration_merges_over_the_tree() {
    let dir = TempDir::new();
    dir.file("packages/default/count.js", "x");
    dir.file("packages/demo/hi.js", "x");
    dir.file(
        "project.yml",
        "parameters: {greeting: hello}\nenvironment: {TOKEN: ${TOKEN}}\npackages:\n\
         \x20 - name: default\n    actions:\n      - name: count\n        web: false\n\
         \x20       state: {write: [counter]}\n        limits: {timeout: 5000}\n\
         \x20 - name: demo\n    shared: true\n    parameters: {greeting: hi}\n    actions:\n\
         \x20     - name: hi\n        runtime: nodejs:20\n        parameters: {n: 1}\n",
    );
    let project = read(dir.path(), &vars(&[("TOKEN", "s3cret")])).unwrap();
    let count = action(&project, "count");
    assert_eq!(count.annotations["state"], json!({"write": ["counter"]}));
    assert_eq!(count.annotations["web-export"], json!(false));
    assert_eq!(count.limits.timeout, Some(5000));
    let keys: Vec<(&str, bool)> = count
        .parameters
        .iter()
        .map(|p| (p.key.as_str(), p.init))
        .collect();
    assert_eq!(
        keys,
        [("TOKEN", true), ("greeting", false)],
        "unpackaged actions get the project's"
    );
    let demo = project.packages.iter().find(|p| p.name == "demo").unwrap();
    assert!(demo.shared);
    assert_eq!(
        demo.parameters
            .iter()
            .find(|p| p.key == "greeting")
            .unwrap()
            .value,
        json!("hi")
    );
    assert_eq!(
        action(&project, "demo/hi").kind.as_deref(),
        Some("nodejs:20")
    );
}

#[test]
fn layout_mistakes_are_named() {
    let err = |files: &[(&str, &str)]| {
        let dir = TempDir::new();
        for (path, text) in files {
            dir.file(path, text);
        }
        read(dir.path(), &Variables::default())
            .unwrap_err()
            .to_string()
    };
    let e = err(&[("packages/p/a.js", "x"), ("packages/p/a.py", "x")]);
    assert!(e.contains("two entries of packages/p are action a"), "{e}");
    let e = err(&[("packages/p/notes.txt", "x")]);
    assert!(
        e.contains("cannot tell the runtime kind of packages/p/notes.txt"),
        "{e}"
    );
    let e = err(&[(
        "project.yml",
        "packages:\n  - name: p\n    actions:\n      - name: ghost\n",
    )]);
    assert!(
        e.contains("action ghost of package p is in project.yml but has no file"),
        "{e}"
    );
    let e = err(&[
        ("packages/default/a.js", "x"),
        (
            "project.yml",
            "packages:\n  - name: default\n    shared: true\n",
        ),
    ]);
    assert!(e.contains("package default is no package"), "{e}");
    let e = err(&[(
        "project.yml",
        "packages:\n  - name: p\n    actions:\n      - name: s\n        sequence: [a]\n        annotations: {web-export: true}\n",
    )]);
    assert!(
        e.contains("annotation `web-export` is written by the deployer"),
        "{e}"
    );
    let e = err(&[("project.yml", "targetNamespace: ${NOPE}\n")]);
    assert!(e.contains("NOPE"), "{e}");
}

#[test]
fn directories_and_zips_are_actions_too() {
    let dir = TempDir::new();
    dir.file("packages/p/multi/index.js", "x");
    dir.file("packages/p/bundle.nodejs-20.zip", "PK");
    let project = read(dir.path(), &Variables::default()).unwrap();
    let multi = action(&project, "p/multi");
    assert_eq!(
        multi.source,
        Source::Directory {
            path: "packages/p/multi".into()
        }
    );
    assert_eq!(multi.kind, None, "known after the build");
    let bundle = action(&project, "p/bundle");
    assert!(bundle.binary);
    assert_eq!(bundle.kind.as_deref(), Some("nodejs:20"));
}

#[test]
fn the_project_is_named_after_its_directory() {
    let dir = TempDir::new();
    let root = dir.path().join("my-app");
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(root.join("web/index.html"), "<h1>hi</h1>").unwrap();
    let project = read(&root, &Variables::default()).unwrap();
    assert_eq!(project.name, "my-app");
    assert_eq!(project.web, ["index.html"]);
    assert!(read(&root.join("web/index.html"), &Variables::default()).is_err());
}
