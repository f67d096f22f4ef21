//! The inputs: what one activation needs ([`Request`]) and what a controller knows of each
//! live invoker ([`Invoker`]), from its last heartbeat plus what this controller placed since.

use crate::hash;

/// What placing one activation needs to know of its action. Build it once per action
/// revision and reuse it: it holds only keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Orders the invokers: the fully qualified name, not the revision, so an updated action
    /// keeps its home, its declared files stay local and its old warm instances age out where
    /// the new ones grow.
    pub(crate) action: u64,
    pub(crate) revision: u64,
    pub(crate) files: Vec<u64>,
    /// The action's memory limit in MB, what a run reserves on its invoker.
    pub memory_mb: u64,
}

impl Request {
    /// An action by its fully qualified name (`/ns/[pkg/]name`) and its revision key
    /// (`Action::revision_key`, what invokers keep warm instances by).
    pub fn new(fully_qualified_name: &str, revision: &str, memory_mb: u64) -> Request {
        Request {
            action: hash::key(fully_qualified_name),
            revision: hash::key(revision),
            files: Vec::new(),
            memory_mb,
        }
    }

    /// With the files the action declares, objects of `namespace`'s data store.
    pub fn with_files<I, S>(mut self, namespace: &str, names: I) -> Request
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.files.extend(
            names
                .into_iter()
                .map(|n| hash::file_key(namespace, n.as_ref())),
        );
        self
    }

    /// The key invokers report this revision's warm instances by.
    pub fn revision_key(&self) -> u64 {
        self.revision
    }

    /// The keys invokers report these declared files by.
    pub fn file_keys(&self) -> &[u64] {
        &self.files
    }
}

/// One live invoker as a controller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoker {
    id: String,
    id_key: u64,
    /// Memory it offers to activations (its `--memory-budget`), in MB.
    pub memory_mb: u64,
    /// Memory of the activations running on it: its last heartbeat's figure plus what this
    /// controller placed there since ([`Invoker::placed`]). Idle warm instances do not count:
    /// the invoker evicts them to make room.
    pub used_mb: u64,
    /// Its idle warm instances, counted by revision key ([`Request::revision_key`]).
    pub warm: Digest,
    /// The declared files its cache holds, by file key ([`crate::file_key`]).
    pub files: Digest,
}

impl Invoker {
    /// An invoker offering `memory_mb`, idle and with nothing cached.
    pub fn new(id: impl Into<String>, memory_mb: u64) -> Invoker {
        let id = id.into();
        Invoker {
            id_key: hash::key(&id),
            id,
            memory_mb,
            used_mb: 0,
            warm: Digest::default(),
            files: Digest::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn id_key(&self) -> u64 {
        self.id_key
    }

    /// Whether `memory_mb` more fits in what it offers.
    pub fn fits(&self, memory_mb: u64) -> bool {
        self.used_mb.saturating_add(memory_mb) <= self.memory_mb
    }

    /// The share of its memory in use once `memory_mb` more is placed: 0 idle, 1 full; an
    /// invoker offering nothing is infinitely loaded.
    pub fn load_with(&self, memory_mb: u64) -> f64 {
        if self.memory_mb == 0 {
            return f64::INFINITY;
        }
        self.used_mb.saturating_add(memory_mb) as f64 / self.memory_mb as f64
    }

    /// Counts a placement this controller made here, until the next heartbeat replaces the
    /// view: the activation's memory is in use and an idle warm instance of its revision, if
    /// there was one, is taken.
    pub fn placed(&mut self, request: &Request) {
        self.used_mb = self.used_mb.saturating_add(request.memory_mb);
        self.warm.remove(request.revision);
    }
}

/// A multiset of 64-bit keys, sorted: how many idle warm instances of each revision, or
/// which declared files (one each). Eight bytes and a count per entry keep heartbeats small
/// (a thousand cached files is 12 KB), and at 64 bits a false match is not worth a thought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    entries: Vec<(u64, u32)>,
}

impl Digest {
    /// One more of `key`.
    pub fn add(&mut self, key: u64) {
        match self.entries.binary_search_by_key(&key, |e| e.0) {
            Ok(at) => self.entries[at].1 = self.entries[at].1.saturating_add(1),
            Err(at) => self.entries.insert(at, (key, 1)),
        }
    }

    /// One fewer of `key`; false when there was none.
    pub fn remove(&mut self, key: u64) -> bool {
        match self.entries.binary_search_by_key(&key, |e| e.0) {
            Ok(at) => {
                self.entries[at].1 -= 1;
                if self.entries[at].1 == 0 {
                    self.entries.remove(at);
                }
                true
            }
            Err(_) => false,
        }
    }

    pub fn count(&self, key: u64) -> u32 {
        self.entries
            .binary_search_by_key(&key, |e| e.0)
            .map_or(0, |at| self.entries[at].1)
    }

    pub fn contains(&self, key: u64) -> bool {
        self.count(key) > 0
    }

    /// Distinct keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every key with its count, in key order (what a heartbeat carries).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.entries.iter().copied()
    }
}

impl FromIterator<u64> for Digest {
    fn from_iter<I: IntoIterator<Item = u64>>(keys: I) -> Digest {
        let mut digest = Digest::default();
        for key in keys {
            digest.add(key);
        }
        digest
    }
}
