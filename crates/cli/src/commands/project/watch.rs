//! `wisp project watch DIR`: deploys the project, then again whenever a file of it changes,
//! until Ctrl-C (or SIGTERM). Each round is an ordinary `wisp project deploy` (incremental by
//! digest: only what changed is sent), run with `--json` output from which a short summary is
//! printed: what changed on disk, what was created, updated or deleted.
//!
//! Changes are found by polling, not by the OS's file notifications: a scan of a project tree
//! (without `node_modules` and `.git`) is a few hundred `stat`s, cheap at this interval; it
//! needs no dependency, behaves the same on every filesystem (network and container mounts
//! where inotify sees nothing, editors that save by renaming, no inotify watch limits) and
//! cannot miss an event. Files are compared by content (`wisp_project::Snapshot`), so a save
//! without an edit, or a build writing the same output again, deploys nothing.
//!
//! A round deploys the files as they were when the tree settled (no change for `SETTLE`). Files
//! that change *while* a deploy runs (a save during a long build, or the build's own output)
//! start one more round; files changing during that follow-up round are taken as they are, so a
//! build that writes something new every time cannot make the watcher deploy forever.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use wisp_project::Snapshot;

use super::deploy;
use crate::config::Config;
use crate::output::{capture, Printer};
use crate::time::{format_millis, now_millis};

/// How often the tree is scanned.
const POLL: Duration = Duration::from_millis(250);
/// How long the tree must stay unchanged before a round starts (an editor's save, a `git
/// checkout`, a formatter run over many files are one round).
const SETTLE: Duration = Duration::from_millis(300);
/// A tree that keeps changing is deployed anyway after this long.
const MAX_SETTLE: Duration = Duration::from_secs(3);
/// Changed files named in a round's header before "and N more".
const NAMED: usize = 5;

pub async fn run(
    dir: &Path,
    env_file: Option<&Path>,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    let watching = watch(dir, env_file, config, printer);
    tokio::select! {
        result = watching => result,
        () = stop_signal() => {
            printer.line(format!("{} stopped watching {}", stamp(), dir.display()))
        }
    }
}

async fn watch(
    dir: &Path,
    env_file: Option<&Path>,
    config: &Config,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Err(crate::error::usage(format!(
            "{} is not a directory; watch a project directory",
            dir.display()
        )));
    }
    let mut deployed = Snapshot::scan(dir, None);
    let files = match deployed.len() {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    printer.line(format!(
        "{} watching {} ({files}); Ctrl-C stops",
        stamp(),
        dir.display(),
    ))?;
    // The first round brings the server up to date with the tree as it is now.
    let mut during = round(dir, env_file, config, printer, &deployed, &BTreeSet::new()).await?;
    let mut follow_up = false;
    loop {
        match next_change(dir, &deployed, follow_up.then_some(&during)).await {
            Next::Adopt(now) => {
                deployed = now;
                follow_up = false;
            }
            Next::Round(now, changed) => {
                follow_up = !during.is_empty() && changed.is_subset(&during);
                during = round(dir, env_file, config, printer, &now, &changed).await?;
                deployed = now;
            }
        }
    }
}

enum Next {
    /// Deploy the tree as in this snapshot, which differs from the last in these files.
    Round(Snapshot, BTreeSet<PathBuf>),
    /// Take this snapshot as deployed: it differs only in a follow-up round's own writes.
    Adopt(Snapshot),
}

/// Waits for the tree to differ from `deployed` and settle. A change undone before the tree
/// settled (a file saved and restored) is no change.
async fn next_change(dir: &Path, deployed: &Snapshot, ignored: Option<&BTreeSet<PathBuf>>) -> Next {
    let mut now = Snapshot::scan(dir, Some(deployed));
    loop {
        if deployed.changes(&now).is_empty() {
            tokio::time::sleep(POLL).await;
            now = Snapshot::scan(dir, Some(&now));
            continue;
        }
        let started = Instant::now();
        loop {
            tokio::time::sleep(SETTLE).await;
            let later = Snapshot::scan(dir, Some(&now));
            let settled = now.changes(&later).is_empty();
            now = later;
            if settled || started.elapsed() > MAX_SETTLE {
                break;
            }
        }
        let changed = deployed.changes(&now);
        if changed.is_empty() {
            continue;
        }
        if ignored.is_some_and(|ignored| changed.is_subset(ignored)) {
            return Next::Adopt(now);
        }
        return Next::Round(now, changed);
    }
}

/// One deploy: prints what changed and what was deployed (or why it failed: the watcher goes
/// on). Returns the files that changed while it ran.
async fn round(
    dir: &Path,
    env_file: Option<&Path>,
    config: &Config,
    printer: &mut Printer,
    snapshot: &Snapshot,
    changed: &BTreeSet<PathBuf>,
) -> anyhow::Result<BTreeSet<PathBuf>> {
    if !changed.is_empty() {
        printer.line(format!("{} changed: {}", stamp(), list(changed)))?;
    }
    let quiet = Config {
        json: true,
        ..config.clone()
    };
    let (mut capture, out, _) = capture::printer();
    let result = deploy::run(dir, env_file, false, &quiet, &mut capture).await;
    match result {
        Ok(()) => {
            let summary: Value = serde_json::from_str(&out.text()).unwrap_or(Value::Null);
            if config.json {
                printer.line(summary)?;
            } else {
                for line in summarize(&summary) {
                    printer.line(format!("{} {line}", stamp()))?;
                }
            }
        }
        Err(err) => {
            printer.note(format!(
                "{} error: {err:#}\n{} still watching; the next save deploys again",
                stamp(),
                stamp()
            ))?;
        }
    }
    let after = Snapshot::scan(dir, Some(snapshot));
    Ok(snapshot.changes(&after))
}

/// The lines of a round's summary: one per entity sent or deleted, one for the web content
/// when files were uploaded or deleted, then the counts. Lists are read by name (`created`,
/// `updated`, `deleted`, then any other list the deploy reports but `unchanged` and `kept`,
/// which are only counted).
fn summarize(summary: &Value) -> Vec<String> {
    const FIRST: [&str; 3] = ["created", "updated", "deleted"];
    const COUNTED: [&str; 2] = ["unchanged", "kept"];
    let Some(fields) = summary.as_object() else {
        return vec!["deployed (no summary)".to_string()];
    };
    let others = fields
        .keys()
        .map(String::as_str)
        .filter(|k| !FIRST.contains(k) && !COUNTED.contains(k));
    let mut lines = Vec::new();
    let mut counts = Vec::new();
    for word in FIRST.into_iter().chain(others).chain(COUNTED) {
        let Some(items) = fields.get(word).and_then(Value::as_array) else {
            continue;
        };
        if !COUNTED.contains(&word) {
            for item in items {
                let entity = item["entity"].as_str().unwrap_or_default();
                let name = item["name"].as_str().unwrap_or_default();
                lines.push(format!("{word} {entity} {name}"));
            }
        }
        if !items.is_empty() {
            counts.push(format!("{} {word}", items.len()));
        }
    }
    // The site: `{uploaded, unchanged, deleted, url}` when the project has web content.
    if let Some(web) = fields.get("web").filter(|w| w.is_object()) {
        let number = |key: &str| web[key].as_u64().unwrap_or(0);
        let (uploaded, deleted) = (number("uploaded"), number("deleted"));
        if uploaded + deleted > 0 {
            lines.push(format!(
                "web content: {uploaded} uploaded, {deleted} deleted; site: {}",
                web["url"].as_str().unwrap_or_default()
            ));
        }
        match number("unchanged") {
            0 => {}
            1 => counts.push("1 web file unchanged".to_string()),
            n => counts.push(format!("{n} web files unchanged")),
        }
    }
    if lines.is_empty() {
        lines.push(format!("up to date ({})", counts.join(", ")));
    } else {
        lines.push(format!("ok: {}", counts.join(", ")));
    }
    lines
}

fn list(changed: &BTreeSet<PathBuf>) -> String {
    let mut names: Vec<String> = changed
        .iter()
        .take(NAMED)
        .map(|p| p.display().to_string())
        .collect();
    if changed.len() > NAMED {
        names.push(format!("and {} more", changed.len() - NAMED));
    }
    names.join(", ")
}

fn stamp() -> String {
    // The time of day is enough to tell rounds apart.
    let full = format_millis(now_millis());
    format!("[{}]", &full[11..])
}

/// Ctrl-C, or SIGTERM (a process manager's stop).
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_names_what_was_sent_and_counts_the_rest() {
        let summary = json!({
            "project": "app", "namespace": "guest",
            "created": [{"entity": "action", "name": "demo/new"}],
            "updated": [{"entity": "action", "name": "demo/b"}],
            "unchanged": [{"entity": "package", "name": "demo"}, {"entity": "action", "name": "demo/a"}],
            "deleted": [], "kept": [],
        });
        assert_eq!(
            summarize(&summary),
            [
                "created action demo/new",
                "updated action demo/b",
                "ok: 1 created, 1 updated, 2 unchanged"
            ]
        );
        let idle = json!({"created": [], "updated": [], "unchanged": [{"entity": "action", "name": "a"}], "web": null});
        assert_eq!(summarize(&idle), ["up to date (1 unchanged)"]);
        let site = json!({
            "updated": [], "unchanged": [{"entity": "action", "name": "a"}],
            "web": {"uploaded": 2, "unchanged": 5, "deleted": 0, "url": "http://guest.localhost:3233/"},
        });
        assert_eq!(
            summarize(&site),
            [
                "web content: 2 uploaded, 0 deleted; site: http://guest.localhost:3233/",
                "ok: 1 unchanged, 5 web files unchanged"
            ]
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let changed: BTreeSet<PathBuf> = (0..7).map(|i| PathBuf::from(format!("f{i}"))).collect();
        assert_eq!(list(&changed), "f0, f1, f2, f3, f4, and 2 more");
    }
}
