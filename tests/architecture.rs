//! The invariants of `docs/ARCHITECTURE.md` that a machine can check: which crates may link
//! what (read from `cargo metadata`), that `wisp-core` does no IO, where processes are spawned,
//! and that no crate's modules import each other in a cycle. Needs only Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Normal (not dev or build) dependencies of every workspace package, by package name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let normal = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("a name").to_owned())
            .collect();
        packages.insert(package["name"].as_str().expect("a name").to_owned(), normal);
    }
    packages
}

/// The packages that depend on `dependency`.
fn users_of(packages: &BTreeMap<String, BTreeSet<String>>, dependency: &str) -> BTreeSet<String> {
    packages
        .iter()
        .filter(|(_, deps)| deps.contains(dependency))
        .map(|(name, _)| name.clone())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Invariant: the core vocabulary links nothing that does IO, so every crate can use it and
/// its tests need nothing.
#[test]
fn core_depends_only_on_data_crates() {
    let packages = dependencies();
    let core = &packages["wisp-core"];
    let allowed = set(&["rand", "serde", "serde_json", "sha2", "thiserror"]);
    assert!(core.is_subset(&allowed), "wisp-core links {core:?}");
}

/// Invariant: SQL is written in the store (entities, activations) and in the embedded
/// key-value backend's log, nowhere else, so a storage engine is replaced in one crate.
#[test]
fn only_the_store_and_the_embedded_key_value_log_know_sql() {
    let packages = dependencies();
    assert_eq!(
        users_of(&packages, "rusqlite"),
        set(&["wisp-kv", "wisp-store"])
    );
}

/// Invariant: only the store speaks to PostgreSQL (through sqlx); everything else sees its
/// traits, so the platform runs the same on either backend.
#[test]
fn only_the_store_links_postgres() {
    let packages = dependencies();
    for client in [
        "sqlx",
        "sqlx-core",
        "sqlx-postgres",
        "postgres",
        "tokio-postgres",
    ] {
        let users = users_of(&packages, client);
        let allowed = set(&["wisp-store"]);
        assert!(users.is_subset(&allowed), "{client} is used by {users:?}");
    }
    assert_eq!(users_of(&packages, "sqlx"), set(&["wisp-store"]));
}

/// Invariant: HTTP servers live in the API crate and the S3 endpoint; the controller and
/// below know nothing of HTTP, so they can sit behind any front (a bus, a test).
#[test]
fn only_the_api_and_the_s3_endpoint_serve_http() {
    let packages = dependencies();
    for server in ["axum", "hyper", "hyper-util", "tower-http", "s3s"] {
        let users = users_of(&packages, server);
        let allowed = set(&["wisp-api", "wisp-s3", "wisp-bench"]);
        assert!(users.is_subset(&allowed), "{server} is used by {users:?}");
    }
}

/// Invariant: the controller reaches runtimes only through `wisp_core::invoke::Invoke`, the
/// seam a cluster puts a network behind and tests a script.
#[test]
fn the_controller_knows_the_invoker_only_by_its_trait() {
    let packages = dependencies();
    let controller = &packages["wisp-controller"];
    for forbidden in ["wisp-invoker", "wisp-wasm", "wisp-sandbox", "wisp-api"] {
        assert!(
            !controller.contains(forbidden),
            "wisp-controller links {forbidden}"
        );
    }
    assert_eq!(
        users_of(&packages, "wisp-invoker"),
        set(&["wisp"]),
        "only the binary wires it"
    );
}

/// Invariant: the API crate links no runtime or engine: HTTP stays a thin front over the
/// controller and the stores, cheap to build and to test.
#[test]
fn the_api_links_no_runtime() {
    let packages = dependencies();
    let api = &packages["wisp-api"];
    for forbidden in [
        "wisp-invoker",
        "wisp-wasm",
        "wisp-sandbox",
        "wisp-services",
        "wisp-store",
    ] {
        assert!(!api.contains(forbidden), "wisp-api links {forbidden}");
    }
}

/// Invariant: `wisp-core` does no IO: no files, sockets, processes or runtime.
#[test]
fn core_source_does_no_io() {
    for (file, source) in sources(&crate_dir("core")) {
        for io in ["std::fs", "std::net", "std::process", "tokio"] {
            assert!(!source.contains(io), "{} uses {io}", file.display());
        }
    }
}

/// Invariant: placement is a pure function of its inputs: it links nothing of Wisp's but the
/// vocabulary and reads no clock, file, socket, environment or random source (nor `std`'s
/// per-process hashers), so every controller computes the same order from the same view.
#[test]
fn placement_is_a_pure_function() {
    let packages = dependencies();
    let placement = &packages["wisp-placement"];
    assert!(
        placement.is_subset(&set(&["wisp-core"])),
        "wisp-placement links {placement:?}"
    );
    for (file, source) in sources(&crate_dir("placement").join("src")) {
        for impure in [
            "std::fs",
            "std::net",
            "std::process",
            "std::time",
            "std::env",
            "std::hash",
            "std::collections::Hash",
            "tokio",
            "rand::",
        ] {
            assert!(!source.contains(impure), "{} uses {impure}", file.display());
        }
    }
}

/// Invariant: processes are started by the sandbox (function runtimes), by the invoker asking
/// an interpreter its version at start, and by project builds on a developer's machine;
/// nothing else in the platform forks.
#[test]
fn only_the_sandbox_the_launcher_check_and_project_builds_spawn_processes() {
    let allowed = [
        crate_dir("sandbox"),
        crate_dir("invoker").join("src/process"),
        crate_dir("project"),
    ];
    let mut roots: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("an entry").path().join("src"))
        .collect();
    roots.push(root().join("src"));
    for root in roots {
        for (file, source) in sources(&root) {
            if allowed.iter().any(|a| file.starts_with(a)) {
                continue;
            }
            for spawn in [
                "Command::new",
                "process::Command",
                "libc::fork",
                "libc::clone",
            ] {
                assert!(
                    !source.contains(spawn),
                    "{} spawns ({spawn})",
                    file.display()
                );
            }
        }
    }
}

/// Invariant: within each crate, modules do not import each other in a cycle, at the top
/// level or inside any module folder, so each can be read (and moved) before the ones that
/// use it.
#[test]
fn no_crate_has_an_import_cycle() {
    let mut roots: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("an entry").path().join("src"))
        .collect();
    roots.push(root().join("src"));
    roots.push(root().join("bench/src"));
    for root in roots {
        let graph = import_graph(&root);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: modules import each other: {}",
                root.display(),
                cycle.join(" → ")
            );
        }
    }
}

/// Edges between sibling modules: `a::b → a::c` when a file of `a::b` names `crate::a::c`
/// (or `super::c` from directly inside `a::b`).
fn import_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in sources(root) {
        let module = module_path(root, &file);
        if module.is_empty() {
            continue;
        }
        let mut named: Vec<Vec<String>> = paths_after(&source, "crate::")
            .into_iter()
            .map(|p| p.split("::").map(str::to_owned).collect())
            .collect();
        // `super::x` inside `a::b` (a file `a/b.rs`) names `a::x`.
        for path in paths_after(&source, "super::") {
            let mut base = module[..module.len() - 1].to_vec();
            base.extend(path.split("::").map(str::to_owned));
            named.push(base);
        }
        for target in named {
            // The shared prefix is the folder both live in; the edge joins the next names.
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common < module.len() && common < target.len() {
                let from = module[..=common].join("::");
                let to = target[..=common].join("::");
                if is_module(root, &target[..=common]) {
                    graph.entry(from).or_default().insert(to);
                }
            }
        }
    }
    graph
}

/// The module a file defines, as names from the crate root (`lib.rs` is `[]`).
fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let relative = file
        .strip_prefix(root)
        .expect("under the root")
        .with_extension("");
    let mut names: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        names.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        names.pop();
    }
    names
}

fn is_module(root: &Path, names: &[String]) -> bool {
    let path = names.iter().fold(root.to_path_buf(), |p, n| p.join(n));
    path.with_extension("rs").is_file() || path.join("mod.rs").is_file()
}

/// The `a::b::c` module paths written after each `prefix` (lowercase names only: types and
/// functions end the path).
fn paths_after(source: &str, prefix: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (at, _) in source.match_indices(prefix) {
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut names = Vec::new();
        for segment in source[at + prefix.len()..].split("::") {
            let name: String = segment
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name.is_empty() {
                break;
            }
            let ends = name.len() < segment.len();
            names.push(name);
            if ends {
                break;
            }
        }
        if !names.is_empty() {
            paths.push(names.join("::"));
        }
    }
    paths
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// Every `.rs` file under `dir` with its source up to its unit tests (`#[cfg(test)]`), which
/// may do what the platform must not.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("an entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".rs") && !matches!(name, "tests.rs" | "test_support.rs") {
                let source = std::fs::read_to_string(&path).expect("a source file");
                let code = source.split("#[cfg(test)]").next().unwrap_or_default();
                files.push((path, code.to_owned()));
            }
        }
    }
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn crate_dir(name: &str) -> PathBuf {
    root().join("crates").join(name)
}
