//! The invokers a controller knows of, from their heartbeats, and where an activation goes.
//!
//! An invoker is live while its last heartbeat is younger than the time-to-live. Each action has
//! a home among the live invokers, `wisp_placement::home` (rendezvous hashing): every controller
//! computes the same home without talking to the others, and when an invoker joins or leaves
//! only the actions homed on it move, so warm runtimes stay useful. The full placement rule
//! (warm instances, cached files, load) waits for heartbeats to report what it reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wisp_core::Action;
use wisp_placement::{Invoker, Request};

/// What an invoker says of itself every interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub invoker: String,
    /// Memory it offers to functions, in MB.
    pub memory_mb: u64,
    /// Memory its runtimes reserve now.
    pub reserved_bytes: u64,
    /// Whether it takes activations (not shutting down).
    pub accepting: bool,
}

/// Live invokers by id.
pub struct Members {
    seen: Mutex<HashMap<String, (Heartbeat, Instant)>>,
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
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(heartbeat.invoker.clone(), (heartbeat, Instant::now()));
    }

    /// The live invokers' last heartbeats, by id.
    pub fn live(&self) -> Vec<Heartbeat> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut live: Vec<Heartbeat> = seen
            .values()
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(heartbeat, _)| heartbeat.clone())
            .collect();
        live.sort_by(|a, b| a.invoker.cmp(&b.invoker));
        live
    }

    /// The invokers heard from once that are silent now, forgetting those silent for ten
    /// times the time-to-live (they left for good).
    pub fn silent(&self) -> Vec<String> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, (_, at)| at.elapsed() < self.ttl * 10);
        seen.iter()
            .filter(|(_, (_, at))| at.elapsed() >= self.ttl)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn is_live(&self, invoker: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(invoker)
            .is_some_and(|(_, at)| at.elapsed() < self.ttl)
    }

    /// The home of `action` among the live invokers that take work.
    pub fn home(&self, action: &Action) -> Option<String> {
        self.home_besides(action, &[])
    }

    /// The home of `action` among the live invokers that take work, but for `tried`.
    pub fn home_besides(&self, action: &Action, tried: &[String]) -> Option<String> {
        let request = Request::new(
            &action.path.fully_qualified(),
            &action.revision_key(),
            action.limits.memory,
        );
        let invokers: Vec<Invoker> = self
            .live()
            .into_iter()
            .filter(|h| h.accepting && !tried.contains(&h.invoker))
            .map(|h| Invoker::new(h.invoker, h.memory_mb))
            .collect();
        wisp_placement::home(&request, &invokers).map(|i| invokers[i].id().to_owned())
    }
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
}
