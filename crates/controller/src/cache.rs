//! In-memory maps the controller reads on the invoke path: actions by path (so a warm invoke
//! does not touch the store), keys by uuid, and finished records not yet committed.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// A map shared between tasks; readers get clones of the values.
pub struct SharedMap<K, V> {
    map: RwLock<HashMap<K, V>>,
    /// When an insert finds more entries than this, the map is emptied first, so keys chosen
    /// by callers (unknown uuids, say) cannot grow it without bound.
    bound: usize,
}

impl<K, V> Default for SharedMap<K, V> {
    fn default() -> Self {
        SharedMap::bounded(usize::MAX)
    }
}

impl<K, V> SharedMap<K, V> {
    pub fn bounded(bound: usize) -> Self {
        SharedMap {
            map: RwLock::new(HashMap::new()),
            bound,
        }
    }
}

impl<K: Eq + Hash, V: Clone> SharedMap<K, V> {
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() > self.bound {
            map.clear();
        }
        map.insert(key, value);
    }

    pub fn remove(&self, key: &K) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
