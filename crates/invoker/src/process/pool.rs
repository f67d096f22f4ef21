//! The process pool: stem cells per kind, warm processes per action revision, the memory
//! budget, idle eviction and queueing.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use wisp_core::invoke::{InvokeError, PoolCount, PoolSnapshot};
use wisp_core::Kind;

use wisp_sandbox::Sandboxes;

use super::launcher::Launchers;
use super::runtime_process::RuntimeProcess;
use crate::config::InvokerConfig;

/// How long a new launcher may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a queued activation looks for room even without a wake-up.
const QUEUE_RECHECK: Duration = Duration::from_millis(50);

/// The process family's state: its configuration, launchers and sandboxes, and the processes.
pub(crate) struct Pool {
    pub(crate) config: InvokerConfig,
    launchers: Launchers,
    sandboxes: Sandboxes,
    state: Mutex<PoolState>,
    released: Notify,
}

#[derive(Default)]
struct PoolState {
    stem: HashMap<Kind, Vec<Arc<RuntimeProcess>>>,
    starting: HashMap<Kind, usize>,
    warm: HashMap<String, Vec<Warm>>,
    /// Processes being initialised per action revision, and the slots of theirs promised to
    /// activations waiting for them (concurrency > 1 only): a burst of first calls shares the
    /// processes it starts instead of starting one each.
    warming: HashMap<String, Warming>,
    reserved_mb: u64,
    queued: usize,
    shutting_down: bool,
}

#[derive(Default)]
struct Warming {
    processes: u64,
    promised: u64,
}

/// Why an activation is waiting in `acquire`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    No,
    /// For room in the memory budget (counted against `max_queued`).
    Queued,
    /// For a slot of a process being initialised for its action.
    Promised,
}

struct Warm {
    process: Arc<RuntimeProcess>,
    kind: Kind,
    in_flight: u64,
    last_used: Instant,
    memory_mb: u64,
}

/// A process handed to one activation.
pub(crate) enum Lease {
    /// Already specialised for this action revision.
    Warm(Arc<RuntimeProcess>),
    /// Needs init; memory is reserved. `None` means no stem cell was ready: start one cold.
    Fresh(Option<Arc<RuntimeProcess>>),
}

impl Pool {
    /// Makes the runtime directories, installs the launchers, and starts the stem cells and
    /// the idle reaper.
    pub(crate) fn start(config: InvokerConfig) -> std::io::Result<Arc<Pool>> {
        // Owner-only, made before anything is written under them: the runtime directory holds
        // every namespace's unpacked code.
        for dir in ["work", "code"] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(config.runtime_dir.join(dir))?;
        }
        let launchers = Launchers::install(
            &config.runtime_dir,
            config.node.clone(),
            config.python.clone(),
        )?;
        let settings = &config.sandbox;
        let sandboxes = Sandboxes::new(wisp_sandbox::Config {
            mode: settings.mode,
            network: settings.network,
            binds: launchers
                .binds()
                .into_iter()
                .chain(settings.shared.iter().cloned())
                .collect(),
            tmp_mb: settings.tmp_mb,
            pids_max: settings.pids_max,
            memory_cgroups: config.memory_cgroups,
            scratch: config.runtime_dir.join("sandbox-root"),
            endpoints: settings.endpoints.clone(),
            outbound: settings.outbound.clone(),
            init_program: settings.init_program.clone(),
        })
        .map_err(std::io::Error::other)?;
        let pool = Arc::new(Pool {
            config,
            launchers,
            sandboxes,
            state: Mutex::new(PoolState::default()),
            released: Notify::new(),
        });
        for kind in Kind::LAUNCHED {
            pool.refill(kind);
        }
        pool.spawn_idle_reaper();
        Ok(pool)
    }

    /// Where runtime processes see a host directory bound into every sandbox.
    pub(crate) fn seen_by_functions(&self, bind: &wisp_sandbox::Bind) -> PathBuf {
        self.sandboxes.visible(bind)
    }

    /// The sandbox layers runtime processes get.
    pub(crate) fn sandbox_layers(&self) -> wisp_sandbox::Layers {
        self.sandboxes.layers()
    }

    fn spawn_idle_reaper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let period = self.config.idle_check_period();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(pool) = weak.upgrade() else { return };
                pool.evict_idle(pool.config.idle_timeout);
            }
        });
    }

    pub(crate) fn accepting(&self) -> bool {
        !self.lock().shutting_down
    }

    /// Processes by kind and state (`stem_cell`, `warm` idle, `busy`), and the memory they
    /// reserve.
    pub(crate) fn snapshot(&self) -> PoolSnapshot {
        let state = self.lock();
        let mut counts: std::collections::BTreeMap<(&'static str, &'static str), usize> =
            std::collections::BTreeMap::new();
        for (kind, cells) in &state.stem {
            *counts.entry((kind.as_str(), "stem_cell")).or_default() += cells.len();
        }
        let mut busy_mb = 0;
        let mut idle = Vec::new();
        for (revision, processes) in &state.warm {
            let mut idle_here = 0;
            for warm in processes {
                let busy = if warm.in_flight > 0 {
                    busy_mb += warm.memory_mb;
                    "busy"
                } else {
                    idle_here += 1;
                    "warm"
                };
                *counts.entry((warm.kind.as_str(), busy)).or_default() += 1;
            }
            if idle_here > 0 {
                idle.push((revision.clone(), idle_here));
            }
        }
        PoolSnapshot {
            runtimes: counts
                .into_iter()
                .map(|((kind, state), count)| PoolCount { kind, state, count })
                .collect(),
            reserved_bytes: state.reserved_mb * 1024 * 1024,
            busy_bytes: busy_mb * 1024 * 1024,
            idle,
            files: Vec::new(),
        }
    }

    /// Stops every process and refuses new activations.
    pub(crate) fn shutdown(&self) {
        let mut state = self.lock();
        state.shutting_down = true;
        for process in state.stem.drain().flat_map(|(_, v)| v) {
            process.kill();
        }
        for warm in state.warm.drain().flat_map(|(_, v)| v) {
            warm.process.kill();
        }
        state.reserved_mb = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a process for `key`, waiting for room until `deadline`.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        key: &str,
        kind: Kind,
        memory_mb: u64,
        concurrency: u64,
        deadline: Instant,
    ) -> Result<Lease, InvokeError> {
        let mut waiting = Waiting::No;
        let result = loop {
            match self.try_acquire(key, kind, memory_mb, concurrency, waiting) {
                Ok(Ok(lease)) => break Ok(lease),
                Ok(Err(now)) => waiting = now,
                Err(e) => break Err(e),
            }
            if Instant::now() >= deadline {
                break Err(InvokeError::Timeout);
            }
            let _ = tokio::time::timeout(QUEUE_RECHECK, self.released.notified()).await;
        };
        if waiting == Waiting::Queued {
            self.lock().queued -= 1;
        }
        if matches!(result, Ok(Lease::Fresh(_))) {
            self.refill(kind);
        }
        result
    }

    /// A lease, or how the caller waits now.
    fn try_acquire(
        &self,
        key: &str,
        kind: Kind,
        memory_mb: u64,
        concurrency: u64,
        waiting: Waiting,
    ) -> Result<Result<Lease, Waiting>, InvokeError> {
        let mut state = self.lock();
        if state.shutting_down {
            return Err(InvokeError::ShuttingDown);
        }
        if let Some(list) = state.warm.get_mut(key) {
            if let Some(w) = list
                .iter_mut()
                .find(|w| w.in_flight < concurrency && w.process.is_alive())
            {
                w.in_flight += 1;
                w.last_used = Instant::now();
                return Ok(Ok(Lease::Warm(w.process.clone())));
            }
        }
        if waiting == Waiting::Promised {
            // Still initialising (or it failed and the promise went with it: try again).
            if state.warming.contains_key(key) {
                return Ok(Err(Waiting::Promised));
            }
        } else if concurrency > 1 {
            if let Some(w) = state.warming.get_mut(key) {
                if w.processes * (concurrency - 1) > w.promised {
                    w.promised += 1;
                    if waiting == Waiting::Queued {
                        state.queued -= 1;
                    }
                    return Ok(Err(Waiting::Promised));
                }
            }
        }
        let budget = self.config.memory_budget_mb;
        if state.reserved_mb + memory_mb > budget {
            state.evict_lru_until(budget - memory_mb.min(budget));
        }
        if state.reserved_mb + memory_mb <= budget || state.reserved_mb == 0 {
            state.reserved_mb += memory_mb;
            let stem = loop {
                match state.stem.get_mut(&kind).and_then(Vec::pop) {
                    Some(p) if p.is_alive() => break Some(p),
                    Some(_) => continue,
                    None => break None,
                }
            };
            if concurrency > 1 {
                state.warming.entry(key.to_string()).or_default().processes += 1;
            }
            return Ok(Ok(Lease::Fresh(stem)));
        }
        if waiting != Waiting::Queued {
            if state.queued >= self.config.max_queued {
                return Err(InvokeError::Overloaded);
            }
            state.queued += 1;
        }
        Ok(Err(Waiting::Queued))
    }

    /// A process started for `key` is initialised (or failed to be): the activations promised
    /// its slots look again, and take them if it is warm.
    pub(crate) fn warmed(&self, key: &str, concurrency: u64) {
        if concurrency > 1 {
            let mut state = self.lock();
            if let Some(w) = state.warming.get_mut(key) {
                w.processes = w.processes.saturating_sub(1);
                w.promised = w.promised.saturating_sub(concurrency - 1);
                if w.processes == 0 {
                    state.warming.remove(key);
                }
            }
        }
        self.released.notify_waiters();
    }

    /// Records a freshly initialised process as warm for `key`, busy with one activation.
    pub(crate) fn add_warm(
        &self,
        key: &str,
        kind: Kind,
        process: Arc<RuntimeProcess>,
        memory_mb: u64,
    ) {
        let mut state = self.lock();
        if state.shutting_down {
            process.kill();
            return;
        }
        state.warm.entry(key.to_string()).or_default().push(Warm {
            process,
            kind,
            in_flight: 1,
            last_used: Instant::now(),
            memory_mb,
        });
    }

    /// Gives back a memory reservation that never became a warm process (init failed).
    pub(crate) fn release_reservation(&self, memory_mb: u64) {
        let mut state = self.lock();
        state.reserved_mb = state.reserved_mb.saturating_sub(memory_mb);
        drop(state);
        self.released.notify_waiters();
    }

    /// Ends one activation's use of a warm process; `discard` stops the process. Returns
    /// whether the process is kept and now idle.
    pub(crate) fn release(&self, key: &str, process: &Arc<RuntimeProcess>, discard: bool) -> bool {
        self.give_back(key, process, |w| {
            w.in_flight = w.in_flight.saturating_sub(1);
            w.last_used = Instant::now();
            discard || !w.process.is_alive()
        })
    }

    /// Stops a warm process if no activation is using it.
    pub(crate) fn retire_if_idle(&self, key: &str, process: &Arc<RuntimeProcess>) {
        self.give_back(key, process, |w| w.in_flight == 0);
    }

    /// Updates `process`'s entry with `update`, which says whether to stop it. Returns whether
    /// it is kept and idle.
    fn give_back(
        &self,
        key: &str,
        process: &Arc<RuntimeProcess>,
        update: impl FnOnce(&mut Warm) -> bool,
    ) -> bool {
        let mut state = self.lock();
        let mut freed = 0;
        let mut idle = false;
        if let Some(list) = state.warm.get_mut(key) {
            if let Some(i) = list.iter().position(|w| Arc::ptr_eq(&w.process, process)) {
                if update(&mut list[i]) {
                    let gone = list.swap_remove(i);
                    gone.process.kill();
                    freed = gone.memory_mb;
                } else {
                    idle = list[i].in_flight == 0;
                }
            }
            if list.is_empty() {
                state.warm.remove(key);
            }
        }
        state.reserved_mb = state.reserved_mb.saturating_sub(freed);
        drop(state);
        self.released.notify_waiters();
        idle
    }

    fn evict_idle(&self, idle_for: Duration) {
        let mut state = self.lock();
        let mut freed = 0;
        for list in state.warm.values_mut() {
            list.retain(|w| {
                let keep = w.in_flight > 0 || w.last_used.elapsed() < idle_for;
                if !keep {
                    w.process.kill();
                    freed += w.memory_mb;
                }
                keep
            });
        }
        state.warm.retain(|_, list| !list.is_empty());
        state.reserved_mb = state.reserved_mb.saturating_sub(freed);
        drop(state);
        if freed > 0 {
            self.released.notify_waiters();
        }
    }

    /// Starts stem cells until `kind` has its configured number (counting those starting).
    pub(crate) fn refill(self: &Arc<Self>, kind: Kind) {
        let missing = {
            let mut state = self.lock();
            if state.shutting_down {
                return;
            }
            let have = state.stem.get(&kind).map_or(0, Vec::len)
                + state.starting.get(&kind).copied().unwrap_or(0);
            let missing = self.config.stem_cells.saturating_sub(have);
            *state.starting.entry(kind).or_default() += missing;
            missing
        };
        for _ in 0..missing {
            let pool = self.clone();
            tokio::spawn(async move {
                let started = pool.start_process(kind).await;
                let mut state = pool.lock();
                if let Some(n) = state.starting.get_mut(&kind) {
                    *n = n.saturating_sub(1);
                }
                match started {
                    Ok(process) if !state.shutting_down => {
                        state.stem.entry(kind).or_default().push(Arc::new(process));
                    }
                    Ok(process) => process.kill(),
                    Err(e) => tracing::warn!(kind = %kind, error = %e, "stem cell failed to start"),
                }
            });
        }
    }

    /// Starts a launcher in a new sandbox and waits until it says it is ready.
    pub(crate) async fn start_process(&self, kind: Kind) -> Result<RuntimeProcess, String> {
        let spawn = self
            .launchers
            .spawn(
                kind,
                &self.sandboxes,
                &self.config.api_host,
                &self.config.runtime_dir.join("work"),
            )
            .ok_or_else(|| format!("the {kind} kind has no launcher"))?;
        let process = RuntimeProcess::spawn(&self.sandboxes, spawn)
            .await
            .map_err(|e| e.to_string())?;
        let ready = process.expect(None, false, 0);
        match tokio::time::timeout(READY_TIMEOUT, ready).await {
            Ok(Ok(finished)) if finished.reply.as_ref().is_some_and(|r| r.ready) => Ok(process),
            Ok(Ok(finished)) => Err(format!(
                "the {kind} launcher exited before it was ready: {}",
                finished.logs.join("\n")
            )),
            _ => {
                process.kill();
                Err(format!("the {kind} launcher did not become ready"))
            }
        }
    }
}

impl PoolState {
    /// Stops least recently used idle processes until at most `target` MB are reserved.
    fn evict_lru_until(&mut self, target: u64) {
        while self.reserved_mb > target {
            let oldest = self
                .warm
                .iter()
                .flat_map(|(key, list)| {
                    list.iter()
                        .enumerate()
                        .filter(|(_, w)| w.in_flight == 0)
                        .map(move |(i, w)| (w.last_used, key.clone(), i))
                })
                .min_by_key(|(used, _, _)| *used);
            let Some((_, key, index)) = oldest else {
                return;
            };
            let list = self.warm.get_mut(&key).expect("key just seen");
            let gone = list.swap_remove(index);
            gone.process.kill();
            self.reserved_mb = self.reserved_mb.saturating_sub(gone.memory_mb);
            if list.is_empty() {
                self.warm.remove(&key);
            }
        }
    }
}
