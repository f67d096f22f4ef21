//! The invokers a controller knows of, from their heartbeats, and where an activation goes.
//!
//! An invoker is live while its last heartbeat is younger than the time-to-live. Each
//! heartbeat says what the invoker offers and holds: its memory, the memory of what it runs,
//! and its idle warm runtimes by revision. Between heartbeats this controller adds what it
//! placed there itself and is still waiting for (what finished is not counted, so a quick
//! stream of activations never makes an invoker look full). From that view `wisp_placement::place` chooses: a warm runtime of the
//! revision first, then the action's home in rendezvous order unless it is hot, then the
//! least loaded (the crate's docs have the rule and its measurements). Every controller
//! computes the same order without talking to the others, and when an invoker joins or
//! leaves only the actions homed on it move.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wisp_core::declared_state::StateDecl;
use wisp_core::{Action, ActivationId};
use wisp_placement::{Digest, Invoker, Request};

/// What an invoker says of itself every interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub invoker: String,
    /// Memory it offers to functions, in MB.
    pub memory_mb: u64,
    /// Memory its runtimes reserve now, idle warm ones included.
    pub reserved_bytes: u64,
    /// Whether it takes activations (not shutting down).
    pub accepting: bool,
    /// Memory of the runtimes running an activation, in MB.
    #[serde(default)]
    pub busy_mb: u64,
    /// Idle warm runtimes, counted by revision key (`wisp_placement::key` of
    /// `Action::revision_key`).
    #[serde(default)]
    pub warm: Vec<(u64, u32)>,
    /// Declared files its cache holds, by file key (`wisp_placement::file_key`).
    #[serde(default)]
    pub files: Vec<u64>,
}

/// An invoker heard from: its last heartbeat, when, and what this controller placed there
/// since.
struct Member {
    heartbeat: Heartbeat,
    at: Instant,
    /// The heartbeat's idle warm runtimes, less those this controller's placements took.
    warm: Digest,
    /// Activations placed here since the heartbeat and not yet answered, with their memory.
    placed: HashMap<ActivationId, u64>,
}

impl Member {
    /// What placement reads of this invoker.
    fn view(&self) -> Invoker {
        let mut view = Invoker::new(self.heartbeat.invoker.clone(), self.heartbeat.memory_mb);
        view.used_mb = self.heartbeat.busy_mb + self.placed.values().sum::<u64>();
        view.warm = self.warm.clone();
        view.files = self.heartbeat.files.iter().copied().collect();
        view
    }
}

/// Live invokers by id.
pub struct Members {
    seen: Mutex<HashMap<String, Member>>,
    ttl: Duration,
}

impl Members {
    /// Invokers not heard from for `ttl` are dead.
    pub fn new(ttl: Duration) -> Members {
        Members {
            seen: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    pub fn heard(&self, heartbeat: Heartbeat) {
        let mut warm = Digest::default();
        for &(revision, count) in &heartbeat.warm {
            for _ in 0..count {
                warm.add(revision);
            }
        }
        let member = Member {
            heartbeat: heartbeat.clone(),
            at: Instant::now(),
            warm,
            placed: HashMap::new(),
        };
        self.lock().insert(heartbeat.invoker, member);
    }

    /// `activation`, placed on `invoker`, was answered.
    pub fn done(&self, invoker: &str, activation: &ActivationId) {
        if let Some(member) = self.lock().get_mut(invoker) {
            member.placed.remove(activation);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Member>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live invokers' last heartbeats, by id.
    pub fn live(&self) -> Vec<Heartbeat> {
        let mut live: Vec<Heartbeat> = self
            .lock()
            .values()
            .filter(|m| m.at.elapsed() < self.ttl)
            .map(|m| m.heartbeat.clone())
            .collect();
        live.sort_by(|a, b| a.invoker.cmp(&b.invoker));
        live
    }

    /// The invokers heard from once that are silent now, forgetting those silent for ten
    /// times the time-to-live (they left for good).
    pub fn silent(&self) -> Vec<String> {
        let mut seen = self.lock();
        seen.retain(|_, m| m.at.elapsed() < self.ttl * 10);
        seen.iter()
            .filter(|(_, m)| m.at.elapsed() >= self.ttl)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn is_live(&self, invoker: &str) -> bool {
        self.lock()
            .get(invoker)
            .is_some_and(|m| m.at.elapsed() < self.ttl)
    }

    /// The home of `action` among the live invokers that take work: the first in its
    /// rendezvous order, whatever their load.
    pub fn home(&self, action: &Action) -> Option<String> {
        let views = self.candidates(&[]);
        wisp_placement::home(&request(action), &views).map(|i| views[i].id().to_owned())
    }

    /// Where `activation` of `action` by a caller of `namespace` runs, among the live
    /// invokers that take work but for `tried`; it counts in the chosen invoker's view until
    /// its next heartbeat or until it is [`Members::done`].
    pub fn place(
        &self,
        action: &Action,
        namespace: &str,
        activation: &ActivationId,
        tried: &[String],
    ) -> Option<String> {
        let request = with_files(request(action), action, namespace);
        let views = self.candidates(tried);
        let chosen = wisp_placement::place(&request, &views).ok()?;
        let id = views[chosen.index].id().to_owned();
        if let Some(member) = self.lock().get_mut(&id) {
            member.warm.remove(request.revision_key());
            member.placed.insert(activation.clone(), request.memory_mb);
        }
        Some(id)
    }

    /// The views of the live invokers that take work, but for `tried`, by id.
    fn candidates(&self, tried: &[String]) -> Vec<Invoker> {
        let mut views: Vec<Invoker> = self
            .lock()
            .values()
            .filter(|m| m.at.elapsed() < self.ttl && m.heartbeat.accepting)
            .filter(|m| !tried.contains(&m.heartbeat.invoker))
            .map(Member::view)
            .collect();
        views.sort_by(|a, b| a.id().cmp(b.id()));
        views
    }
}

/// `request` with the files `action` declares, of the caller's `namespace` (where declared
/// state reads them).
fn with_files(request: Request, action: &Action, namespace: &str) -> Request {
    let annotation = action
        .annotations
        .get(wisp_core::declared_state::ANNOTATION);
    match annotation.map(|a| StateDecl::of(Some(a))) {
        Some(Ok(Some(declared))) if !declared.files.is_empty() => {
            request.with_files(namespace, &declared.files)
        }
        _ => request,
    }
}

/// What placement knows of an activation of `action`.
fn request(action: &Action) -> Request {
    Request::new(
        &action.path.fully_qualified(),
        &action.revision_key(),
        action.limits.memory,
    )
}

#[cfg(test)]
mod tests {
    use wisp_core::{
        Annotations, CodeExec, EntityName, EntityPath, Exec, Kind, SemVer, SystemLimits,
    };

    use super::*;

    /// The action `/guest/<name>`.
    fn action(name: &str) -> Action {
        let parse = |s: &str| EntityName::parse(s).unwrap();
        Action {
            path: EntityPath::new(parse("guest"), None, parse(name)),
            version: SemVer::INITIAL,
            publish: false,
            exec: Exec::Code(CodeExec::new(
                Kind::parse("nodejs:20").unwrap(),
                String::new(),
                None,
            )),
            parameters: Vec::new(),
            annotations: Annotations::default(),
            limits: SystemLimits::default().defaults,
            updated: 1,
        }
    }

    fn beat(id: &str) -> Heartbeat {
        Heartbeat {
            invoker: id.into(),
            memory_mb: 1024,
            reserved_bytes: 0,
            accepting: true,
            busy_mb: 0,
            warm: Vec::new(),
            files: Vec::new(),
        }
    }

    #[test]
    fn a_home_is_the_same_for_every_controller_and_moves_only_with_its_invoker() {
        let ten = Members::new(Duration::from_secs(60));
        let eleven = Members::new(Duration::from_secs(60));
        for i in 0..10 {
            ten.heard(beat(&format!("inv{i}")));
            eleven.heard(beat(&format!("inv{i}")));
        }
        eleven.heard(beat("inv10"));
        let actions: Vec<Action> = (0..2000).map(|i| action(&format!("a{i}"))).collect();
        let moved = actions
            .iter()
            .filter(|a| ten.home(a) != eleven.home(a))
            .count();
        // About one in eleven move, all of them to the newcomer.
        assert!((100..300).contains(&moved), "{moved} of 2000 moved");
        for a in &actions {
            let to = eleven.home(a).unwrap();
            assert!(ten.home(a).unwrap() == to || to == "inv10");
        }
    }

    #[test]
    fn silent_and_refusing_invokers_get_no_work() {
        let members = Members::new(Duration::from_millis(50));
        members.heard(beat("old"));
        std::thread::sleep(Duration::from_millis(80));
        members.heard(Heartbeat {
            accepting: false,
            ..beat("stopping")
        });
        assert!(!members.is_live("old"));
        assert_eq!(members.home(&action("a")), None);
        members.heard(beat("new"));
        assert_eq!(members.home(&action("a")).as_deref(), Some("new"));
    }

    #[test]
    fn an_idle_warm_runtime_draws_the_activation_away_from_its_home_once() {
        let members = Members::new(Duration::from_secs(60));
        members.heard(beat("x"));
        members.heard(beat("y"));
        let a = action("a");
        let home = members.home(&a).unwrap();
        let other = if home == "x" { "y" } else { "x" };
        // The other invoker has one idle warm runtime of the revision.
        let revision = wisp_placement::key(&a.revision_key());
        members.heard(Heartbeat {
            warm: vec![(revision, 1)],
            ..beat(other)
        });
        let place = |tried: &[String]| members.place(&a, "guest", &ActivationId::generate(), tried);
        assert_eq!(place(&[]).as_deref(), Some(other));
        // That runtime is taken now: the next activation goes home.
        assert_eq!(place(&[]).as_deref(), Some(home.as_str()));
        // A home full of running work sends the activation to the one with room.
        members.heard(Heartbeat {
            busy_mb: 1024,
            ..beat(&home)
        });
        assert_eq!(place(&[]).as_deref(), Some(other));
        assert_eq!(place(&[other.to_owned()]).as_deref(), Some(home.as_str()));
    }

    #[test]
    fn what_finished_no_longer_counts_against_an_invoker() {
        let members = Members::new(Duration::from_secs(60));
        members.heard(beat("x"));
        members.heard(beat("y"));
        let a = action("a");
        let home = members.home(&a).unwrap();
        // A thousand quick activations one after the other all stay home.
        for _ in 0..1000 {
            let id = ActivationId::generate();
            assert_eq!(
                members.place(&a, "guest", &id, &[]).as_deref(),
                Some(home.as_str())
            );
            members.done(&home, &id);
        }
        // Four at once, unanswered, would fill its 1024 MB: the home turns hot and some go
        // to the other invoker.
        let spread: Vec<String> = (0..4)
            .filter_map(|_| members.place(&a, "guest", &ActivationId::generate(), &[]))
            .collect();
        assert!(spread.contains(&home), "{spread:?}");
        assert!(spread.iter().any(|id| *id != home), "{spread:?}");
    }

    #[test]
    fn an_action_goes_where_its_declared_files_are_cached() {
        let members = Members::new(Duration::from_secs(60));
        let mut a = action("a");
        a.annotations.set(
            wisp_core::declared_state::ANNOTATION,
            serde_json::json!({"files": ["model.bin"]}),
        );
        members.heard(beat("x"));
        members.heard(beat("y"));
        let home = members.home(&a).unwrap();
        let other = if home == "x" { "y" } else { "x" };
        // The other invoker holds the caller's model.bin; another namespace's does not count.
        members.heard(Heartbeat {
            files: vec![wisp_placement::file_key("guest", "model.bin")],
            ..beat(other)
        });
        let id = ActivationId::generate();
        assert_eq!(members.place(&a, "guest", &id, &[]).as_deref(), Some(other));
        let id = ActivationId::generate();
        assert_eq!(
            members.place(&a, "other", &id, &[]).as_deref(),
            Some(home.as_str())
        );
    }
}
