//! One namespace's keys in memory, and [`Tx`], the journal a command runs in: it remembers
//! the first version of every key the command touches, so the command can be undone (quota)
//! and its row changes computed (persistence).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::resp::{Bytes, Reply};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Bytes),
    List(VecDeque<Bytes>),
    Set(HashSet<Bytes>),
    Hash(HashMap<Bytes, Bytes>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
        }
    }

    /// Bytes counted against the quota: the payload, not Rust's overhead.
    fn bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.iter().map(Vec::len).sum(),
            Value::Set(s) => s.iter().map(Vec::len).sum(),
            Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len()).sum(),
        }
    }

    fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Unix milliseconds.
    pub expires_at: Option<u64>,
    /// Position in SCAN order, stable while the key lives.
    id: u64,
}

impl Entry {
    pub fn new(value: Value, expires_at: Option<u64>) -> Entry {
        Entry {
            value,
            expires_at,
            id: 0,
        }
    }

    fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

fn size(key: &[u8], entry: &Entry) -> usize {
    key.len() + entry.value.bytes()
}

#[derive(Debug, Default)]
pub struct Keyspace {
    entries: HashMap<Bytes, Entry>,
    /// SCAN order: ids are handed out increasingly, so a key that lives through a whole scan
    /// is returned exactly once, whatever else changes.
    order: BTreeMap<u64, Bytes>,
    next_id: u64,
    used: usize,
    /// Keys with an expiry: the sweep passes over a keyspace that has none.
    expiring: usize,
}

impl Keyspace {
    /// Adds a key read from disk.
    pub fn load(&mut self, key: Bytes, entry: Entry) {
        self.place(key, entry);
    }

    fn place(&mut self, key: Bytes, mut entry: Entry) {
        self.next_id += 1;
        entry.id = self.next_id;
        self.order.insert(entry.id, key.clone());
        self.used += size(&key, &entry);
        self.expiring += entry.expires_at.is_some() as usize;
        self.entries.insert(key, entry);
    }

    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Live keys (expired ones are skipped; the sweep removes them).
    pub fn live(&self, now: u64) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.entries.iter().filter(move |(_, e)| !e.expired(now))
    }

    /// Live keys in SCAN order from id `from`.
    pub fn scan_from(&self, from: u64, now: u64) -> impl Iterator<Item = (u64, &Bytes)> {
        self.order
            .range(from..)
            .filter(move |(_, k)| self.entries.get(*k).is_some_and(|e| !e.expired(now)))
            .map(|(id, k)| (*id, k))
    }

    /// Keys whose expiry has passed.
    pub fn expired_keys(&self, now: u64) -> Vec<Bytes> {
        if self.expiring == 0 {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|(_, e)| e.expired(now))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn clear(&mut self) {
        *self = Keyspace {
            next_id: self.next_id,
            ..Keyspace::default()
        };
    }
}

/// What a finished command changed: each key's row as it is now (`None`: deleted).
pub type Changes = Vec<(Bytes, Option<Entry>)>;

/// A command's view of a keyspace: reads see lazy expiry, writes are journaled.
pub struct Tx<'a> {
    ks: &'a mut Keyspace,
    pub now: u64,
    /// The first version of each touched key (`None`: it was absent).
    before: HashMap<Bytes, Option<Entry>>,
}

impl<'a> Tx<'a> {
    pub fn new(ks: &'a mut Keyspace, now: u64) -> Tx<'a> {
        Tx {
            ks,
            now,
            before: HashMap::new(),
        }
    }

    pub fn keyspace(&self) -> &Keyspace {
        self.ks
    }

    fn journal(&mut self, key: &[u8]) {
        if !self.before.contains_key(key) {
            let old = self.ks.entries.get(key).cloned();
            self.before.insert(key.to_vec(), old);
        }
    }

    /// The live entry at `key`; an expired one is deleted on the way (lazy expiry).
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        if self.ks.entries.get(key)?.expired(self.now) {
            self.remove(key);
            return None;
        }
        self.ks.entries.get(key)
    }

    /// The live entry at `key`, for changing in place.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.get(key)?;
        self.journal(key);
        self.ks.entries.get_mut(key)
    }

    pub fn insert(&mut self, key: &[u8], entry: Entry) {
        self.journal(key);
        self.ks.entries.insert(key.to_vec(), entry);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.journal(key);
        self.ks.entries.remove(key)
    }

    /// The live value at `key` if it has type `T`; WRONGTYPE if it holds another type.
    pub fn typed<T: Kind>(&mut self, key: &[u8]) -> Result<Option<&T>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(e) => T::of(&e.value).map(Some).ok_or_else(wrong_type),
        }
    }

    /// The value at `key` of type `T` for changing, created empty (with no expiry) if absent.
    pub fn typed_mut<T: Kind>(&mut self, key: &[u8]) -> Result<&mut T, Reply> {
        if self.get(key).is_none() {
            self.insert(key, Entry::new(T::empty(), None));
        }
        let entry = self.get_mut(key).expect("just ensured");
        T::of_mut(&mut entry.value).ok_or_else(wrong_type)
    }

    /// Ends the command: drops collections it emptied, then either keeps its changes (and
    /// returns them) or, when `keep` refuses the new size, puts everything back.
    pub fn finish(self, quota: usize) -> Result<Changes, usize> {
        let Tx { ks, before, .. } = self;
        let mut used = ks.used;
        for (key, old) in &before {
            if let Some(old) = old {
                used -= size(key, old);
            }
            match ks
                .entries
                .get(key)
                .map(|e| (e.value.is_empty_collection(), size(key, e)))
            {
                Some((true, _)) => drop(ks.entries.remove(key)),
                Some((false, n)) => used += n,
                None => {}
            }
        }
        if used > quota && used > ks.used {
            for (key, old) in before {
                match old {
                    Some(old) => ks.entries.insert(key, old),
                    None => ks.entries.remove(&key),
                };
            }
            return Err(used);
        }
        ks.used = used;
        let mut changes = Vec::with_capacity(before.len());
        for (key, old) in before {
            let had_expiry = old.as_ref().is_some_and(|e| e.expires_at.is_some());
            let has_expiry = ks.entries.get(&key).is_some_and(|e| e.expires_at.is_some());
            ks.expiring = ks.expiring + has_expiry as usize - had_expiry as usize;
            let id = old.as_ref().map(|e| e.id);
            match (id, ks.entries.get_mut(&key)) {
                (None, None) => {}
                (Some(id), None) => {
                    ks.order.remove(&id);
                    changes.push((key, None));
                }
                (Some(id), Some(e)) => {
                    e.id = id;
                    if old.as_ref() != Some(e) {
                        changes.push((key.clone(), Some(e.clone())));
                    }
                }
                (None, Some(e)) => {
                    ks.next_id += 1;
                    e.id = ks.next_id;
                    ks.order.insert(e.id, key.clone());
                    changes.push((key.clone(), Some(e.clone())));
                }
            }
        }
        Ok(changes)
    }
}

pub fn wrong_type() -> Reply {
    Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
}

/// A value type a command expects.
pub trait Kind: Sized {
    fn empty() -> Value;
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
}

macro_rules! kind {
    ($variant:ident, $ty:ty) => {
        impl Kind for $ty {
            fn empty() -> Value {
                Value::$variant(Default::default())
            }
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

kind!(Str, Bytes);
kind!(List, VecDeque<Bytes>);
kind!(Set, HashSet<Bytes>);
kind!(Hash, HashMap<Bytes, Bytes>);
