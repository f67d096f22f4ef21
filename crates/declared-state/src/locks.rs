//! Host locks on declared keys: activations on this host that write the same key take turns,
//! so they never conflict with each other (only with writers elsewhere), and a hot counter
//! costs one run per increment instead of a storm of retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(crate) struct KeyLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the locks of one activation's write keys until dropped.
pub(crate) struct Held<'a> {
    owner: &'a KeyLocks,
    names: Vec<String>,
    guards: Vec<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    /// Takes the lock of each of `keys` of `namespace`, in sorted order (so two activations
    /// with overlapping keys cannot deadlock), waiting as long as it takes.
    pub(crate) async fn lock<'a>(&'a self, namespace: &str, keys: &[String]) -> Held<'a> {
        let mut names: Vec<String> = keys.iter().map(|k| format!("{namespace}\0{k}")).collect();
        names.sort();
        names.dedup();
        let mut guards = Vec::with_capacity(names.len());
        for name in &names {
            let lock = self
                .map()
                .entry(name.clone())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
                .clone();
            guards.push(lock.lock_owned().await);
        }
        Held {
            owner: self,
            names,
            guards,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.guards.clear();
        // Forget locks nobody holds or waits for, so the map does not grow with every key
        // ever written. A waiter holds a clone of the Arc, which keeps its entry.
        let mut map = self.owner.map();
        for name in &self.names {
            if map.get(name).is_some_and(|l| Arc::strong_count(l) == 1) {
                map.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn overlapping_key_sets_take_turns_and_free_their_entries() {
        let locks = Arc::new(KeyLocks::default());
        let held = locks.lock("ns", &["b".into(), "a".into()]).await;
        let other = locks.clone();
        let waiter = tokio::spawn(async move {
            let _h = other.lock("ns", &["a".into()]).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "the second activation waits for key a"
        );
        // Another namespace's key of the same name is another lock.
        drop(locks.lock("other", &["a".into()]).await);
        drop(held);
        waiter.await.unwrap();
        assert_eq!(locks.len(), 0);
    }
}
