//! `deploy/kubernetes` checked offline, with no cluster: the example overlay renders with
//! kubectl's Kustomize (pinned in tests/fixtures/kubectl), the result passes the Kubernetes
//! API's own schemas strictly (kubernetes-validate, pinned in tests/fixtures/kubernetes-validate),
//! the rendered copy in the repository is what it renders to, and the manifests keep what
//! docs/CLUSTER.md promises: probes and resource requests on every container, secrets only by
//! reference, and an invoker that asks for the sandbox's few capabilities, never `privileged`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The oldest Kubernetes the manifests are for (user namespaces for pods on by default) and
/// the newest whose schemas the validator has.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

/// Capabilities the invoker may add (base/invoker.yaml says what each is for).
const INVOKER_CAPABILITIES: [&str; 5] =
    ["SYS_ADMIN", "SYS_CHROOT", "SETUID", "SETGID", "NET_ADMIN"];

const INSTALL: &str = "run scripts/test.sh, which installs it";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy() -> PathBuf {
    root().join("deploy/kubernetes")
}

fn site(fixture: &str) -> PathBuf {
    root().join("tests/fixtures").join(fixture).join("site")
}

/// `kubectl kustomize <dir>` with the pinned kubectl.
fn kustomize(dir: &Path) -> String {
    let kubectl = site("kubectl").join("bin/kubectl");
    crate::tools::require(kubectl.to_str().unwrap(), INSTALL);
    let output = Command::new(&kubectl)
        .arg("kustomize")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("kubectl writes UTF-8")
}

/// Python with the validator and its dependencies (PyYAML among them) on its path.
fn python() -> Command {
    let site = site("kubernetes-validate");
    assert!(
        site.join("kubernetes_validate").is_dir(),
        "kubernetes-validate is not installed in {}: {INSTALL}",
        site.display()
    );
    crate::tools::require("python3", crate::tools::PYTHON);
    let mut python = Command::new("python3");
    python.env("PYTHONPATH", site).stdin(Stdio::null());
    python
}

/// Every document of `path` as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let output = python()
        .args([
            "-c",
            "import json, sys, yaml\n\
             with open(sys.argv[1]) as f:\n    \
                 json.dump([d for d in yaml.safe_load_all(f) if d], sys.stdout)",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{} is not YAML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from python")
}

/// The checked-in rendering without its leading comment block.
fn checked_in() -> (PathBuf, String) {
    let path = deploy().join("rendered/example.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/kubernetes/rendered/example.yaml");
    let body = text
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .map(|line| format!("{line}\n"))
        .collect();
    (path, body)
}

#[test]
fn the_rendered_example_is_what_the_overlay_renders_to() {
    let rendered = kustomize(&deploy().join("overlays/example"));
    let (path, body) = checked_in();
    assert!(
        body == rendered,
        "{} is out of date: run scripts/render-kubernetes.sh",
        path.display()
    );
    // The base renders on its own too, for users who write their own overlay.
    kustomize(&deploy().join("base"));
}

#[test]
fn the_rendered_example_passes_the_kubernetes_schemas_strictly() {
    let (path, _) = checked_in();
    for version in KUBERNETES_VERSIONS {
        let output = python()
            .args([
                "-m",
                "kubernetes_validate",
                "--strict",
                "--quiet",
                "-k",
                version,
            ])
            .arg(&path)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{} fails Kubernetes {version}'s schemas:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn name(document: &Value) -> &str {
    document["metadata"]["name"].as_str().expect("a name")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn every_container_has_probes_requests_and_no_privilege() {
    let (path, _) = checked_in();
    let documents = documents(&path);
    let workloads: Vec<&Value> = ["Deployment", "StatefulSet"]
        .iter()
        .flat_map(|k| kind(&documents, k))
        .collect();
    assert_eq!(
        workloads.len(),
        2,
        "a controller Deployment and an invoker StatefulSet"
    );
    for workload in &workloads {
        let pod = &workload["spec"]["template"]["spec"];
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(pod[key] != true, "{} sets {key}", name(workload));
        }
        for volume in pod["volumes"].as_array().into_iter().flatten() {
            assert!(
                volume["hostPath"].is_null(),
                "{} mounts a host path",
                name(workload)
            );
        }
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault",
            "{}",
            name(workload)
        );
        assert_eq!(
            pod["automountServiceAccountToken"],
            false,
            "{}",
            name(workload)
        );
        assert_eq!(pod["enableServiceLinks"], false, "{}", name(workload));
        for container in pod["containers"].as_array().expect("containers") {
            let what = format!(
                "{}/{}",
                name(workload),
                container["name"].as_str().unwrap_or("?")
            );
            for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                assert!(container[probe].is_object(), "{what} has no {probe}");
            }
            let resources = &container["resources"];
            for request in ["cpu", "memory"] {
                assert!(
                    !resources["requests"][request].is_null(),
                    "{what} requests no {request}"
                );
            }
            assert!(
                !resources["limits"]["memory"].is_null(),
                "{what} has no memory limit"
            );
            let security = &container["securityContext"];
            assert!(security["privileged"] != true, "{what} is privileged");
            assert!(
                strings(&security["capabilities"]["drop"]).contains(&"ALL"),
                "{what} keeps the runtime's default capabilities"
            );
            assert_eq!(security["readOnlyRootFilesystem"], true, "{what}");
        }
    }
}

#[test]
fn the_invoker_asks_only_for_what_the_sandbox_needs() {
    let (path, _) = checked_in();
    let documents = documents(&path);
    let invoker = kind(&documents, "StatefulSet")[0];
    let pod = &invoker["spec"]["template"]["spec"];
    // Root and capabilities inside a user namespace of the pod's own, not the node's.
    assert_eq!(pod["hostUsers"], false);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    for added in strings(&security["capabilities"]["add"]) {
        assert!(
            INVOKER_CAPABILITIES.contains(&added),
            "the invoker adds {added}, which the sandbox does not need"
        );
    }
    // Kubernetes refuses an unmasked /proc except with hostUsers: false; the schemas do not
    // check that, so it is checked here.
    assert_eq!(security["procMount"], "Unmasked");
    assert!(security["seccompProfile"]["type"] != "Unconfined");

    // Running activations get to finish: the grace period covers the longest action.
    let longest = wisp_core::limits::SystemLimits::default().max_timeout / 1000;
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("a grace period");
    assert!(
        grace >= longest,
        "{grace} s to stop, but actions may run {longest} s"
    );

    // The invoker's id is its stable pod name, and it keeps its data on a volume of its own.
    let env = container["env"].as_array().expect("env");
    let id = env
        .iter()
        .find(|e| e["name"] == "WISP_INVOKER_ID")
        .expect("WISP_INVOKER_ID is set");
    assert_eq!(id["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(
        invoker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
}

#[test]
fn the_controllers_run_unprivileged() {
    let (path, _) = checked_in();
    let documents = documents(&path);
    let controller = kind(&documents, "Deployment")[0];
    let pod = &controller["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    for container in pod["containers"].as_array().expect("containers") {
        let security = &container["securityContext"];
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert!(security["capabilities"]["add"].is_null());
    }
}

#[test]
fn secrets_are_referenced_never_written() {
    let (path, _) = checked_in();
    let documents = documents(&path);
    assert!(
        kind(&documents, "Secret").is_empty(),
        "secret values do not belong in the repository"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let references = text.matches("secretKeyRef:").count();
    assert!(references > 0);
    // Every reference names the one Secret docs/CLUSTER.md tells operators to create.
    let named = text.matches("name: wisp-secrets").count();
    assert_eq!(references, named, "every secretKeyRef names wisp-secrets");
}

#[test]
fn every_service_and_budget_selects_pods_that_exist() {
    let (path, _) = checked_in();
    let documents = documents(&path);
    let pod_labels: Vec<&Value> = ["Deployment", "StatefulSet"]
        .iter()
        .flat_map(|k| kind(&documents, k))
        .map(|w| &w["spec"]["template"]["metadata"]["labels"])
        .collect();
    let selects = |selector: &Value| {
        let selector = selector.as_object().expect("a selector");
        pod_labels.iter().any(|labels| {
            selector
                .iter()
                .all(|(key, value)| labels.get(key) == Some(value))
        })
    };
    for service in kind(&documents, "Service") {
        assert!(
            selects(&service["spec"]["selector"]),
            "Service {}",
            name(service)
        );
    }
    for budget in kind(&documents, "PodDisruptionBudget") {
        assert!(
            selects(&budget["spec"]["selector"]["matchLabels"]),
            "PodDisruptionBudget {}",
            name(budget)
        );
    }
}
