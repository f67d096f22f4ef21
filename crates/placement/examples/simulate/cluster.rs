//! Model invokers: memory for running activations, a pool of idle warm instances kept by
//! least recent use in the memory left over, and a declared-file cache bounded in MB. Each
//! keeps the placement view of itself (`Invoker`) exact, as one controller with fresh
//! heartbeats would see it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use wisp_placement::Invoker;

use crate::workload::{Action, File};

pub struct Host {
    pub view: Invoker,
    /// Idle warm instances, least recently used first: (revision key, MB).
    idle: VecDeque<(u64, u64)>,
    idle_mb: u64,
    /// Cached files, least recently used first: (file key, MB).
    files: VecDeque<(u64, u64)>,
    files_mb: u64,
    file_budget_mb: u64,
    /// MB-seconds busy since the measurement began.
    busy_mb_s: f64,
    since: f64,
}

/// What starting one activation found.
pub struct Start {
    pub warm: bool,
    /// Started though the host had no room (it would queue).
    pub over_capacity: bool,
    pub file_hits: usize,
}

pub struct Cluster {
    pub hosts: Vec<Host>,
    /// Running activations by end time (µs): host, revision, MB.
    running: BinaryHeap<Reverse<(u64, usize, u64, u64)>>,
}

impl Cluster {
    pub fn new(invokers: usize, memory_mb: u64, file_budget_mb: u64) -> Cluster {
        let hosts = (0..invokers)
            .map(|i| Host {
                view: Invoker::new(format!("invoker-{i}"), memory_mb),
                idle: VecDeque::new(),
                idle_mb: 0,
                files: VecDeque::new(),
                files_mb: 0,
                file_budget_mb,
                busy_mb_s: 0.0,
                since: 0.0,
            })
            .collect();
        Cluster {
            hosts,
            running: BinaryHeap::new(),
        }
    }

    pub fn views(&self) -> Vec<Invoker> {
        self.hosts.iter().map(|h| h.view.clone()).collect()
    }

    /// Ends every activation due by `now`; their instances go idle.
    pub fn advance(&mut self, now: f64) {
        let now_us = (now * 1e6) as u64;
        while let Some(Reverse((end, host, revision, mb))) = self.running.peek().copied() {
            if end > now_us {
                break;
            }
            self.running.pop();
            let host = &mut self.hosts[host];
            host.account(end as f64 / 1e6);
            host.view.used_mb -= mb;
            host.idle.push_back((revision, mb));
            host.idle_mb += mb;
            host.view.warm.add(revision);
            host.evict_idle(0);
        }
    }

    /// Starts an activation of `action` on `host` at `now` for `duration` seconds.
    pub fn start(
        &mut self,
        host_index: usize,
        action: &Action,
        files: &[File],
        now: f64,
        duration: f64,
    ) -> Start {
        let host = &mut self.hosts[host_index];
        host.account(now);
        let revision = action.request.revision_key();
        let mb = action.request.memory_mb;
        let warm = match host.idle.iter().rposition(|&(r, _)| r == revision) {
            Some(at) => {
                host.idle.remove(at);
                host.idle_mb -= mb;
                host.view.warm.remove(revision);
                true
            }
            None => {
                host.evict_idle(mb);
                false
            }
        };
        let over_capacity = !host.view.fits(mb);
        host.view.used_mb += mb;
        let file_hits = action
            .files
            .iter()
            .filter(|&&f| host.use_file(&files[f]))
            .count();
        let end = ((now + duration) * 1e6) as u64;
        self.running.push(Reverse((end, host_index, revision, mb)));
        Start {
            warm,
            over_capacity,
            file_hits,
        }
    }

    /// Starts the time-averaged load over from `now`.
    pub fn measure_from(&mut self, now: f64) {
        for host in &mut self.hosts {
            host.busy_mb_s = 0.0;
            host.since = now;
        }
    }

    /// The busiest host's average busy memory over the mean's, since `measure_from`.
    pub fn max_over_mean(&mut self, now: f64) -> f64 {
        let busy: Vec<f64> = self
            .hosts
            .iter_mut()
            .map(|h| {
                h.account(now);
                h.busy_mb_s
            })
            .collect();
        let mean = busy.iter().sum::<f64>() / busy.len() as f64;
        busy.iter().copied().fold(0.0, f64::max) / mean
    }
}

impl Host {
    fn account(&mut self, now: f64) {
        if now > self.since {
            self.busy_mb_s += self.view.used_mb as f64 * (now - self.since);
            self.since = now;
        }
    }

    /// Drops the least recently used idle instances until `mb` more fits beside them.
    fn evict_idle(&mut self, mb: u64) {
        while self.view.used_mb + self.idle_mb + mb > self.view.memory_mb {
            let Some((revision, size)) = self.idle.pop_front() else {
                break;
            };
            self.idle_mb -= size;
            self.view.warm.remove(revision);
        }
    }

    /// Uses a declared file: whether it was cached; fetched and cached if not.
    fn use_file(&mut self, file: &File) -> bool {
        if let Some(at) = self.files.iter().position(|&(k, _)| k == file.key) {
            let entry = self.files.remove(at).expect("found");
            self.files.push_back(entry);
            return true;
        }
        self.files.push_back((file.key, file.size_mb));
        self.files_mb += file.size_mb;
        self.view.files.add(file.key);
        while self.files_mb > self.file_budget_mb && self.files.len() > 1 {
            let (key, size) = self.files.pop_front().expect("not empty");
            self.files_mb -= size;
            self.view.files.remove(key);
        }
        false
    }
}
