//! The wasm engine's instance slots, and the warm component instances idling in them.
//!
//! The pooling allocator has a fixed number of slots (`--wasm-instances`); a running activation
//! holds one, and so does an idle warm instance, since its memories stay allocated. Warm
//! instances follow OpenWhisk's warm containers: one per activation at a time, reused for the
//! same action revision (and invoking namespace), dropped after `idle_timeout` unused, when more
//! than `max_idle` are idle (the least recently used first), or as soon as an activation needs a
//! slot and none is free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use wisp_core::invoke::InvokeError;

/// A slot of the pool, held by a running activation or an idle instance.
pub(crate) type Slot = OwnedSemaphorePermit;

/// Generic over what is kept so that its rules can be tested without an engine.
pub(crate) struct InstancePool<I> {
    slots: Arc<Semaphore>,
    idle: Mutex<Idle<I>>,
    max_idle: usize,
    idle_timeout: Duration,
}

struct Idle<I> {
    /// By warm key; the most recently parked last.
    parked: HashMap<String, Vec<Parked<I>>>,
    count: usize,
    /// Activations waiting for a slot: while there are any, nothing is parked.
    waiting: usize,
}

impl<I> Default for Idle<I> {
    fn default() -> Self {
        Idle {
            parked: HashMap::new(),
            count: 0,
            waiting: 0,
        }
    }
}

struct Parked<I> {
    instance: I,
    slot: Slot,
    since: Instant,
}

impl<I> InstancePool<I> {
    pub(crate) fn new(slots: u32, max_idle: usize, idle_timeout: Duration) -> InstancePool<I> {
        InstancePool {
            slots: Arc::new(Semaphore::new(slots as usize)),
            idle: Mutex::new(Idle::default()),
            max_idle,
            idle_timeout,
        }
    }

    /// Refuses new slots and drops the idle instances.
    pub(crate) fn close(&self) {
        self.slots.close();
        let dropped = std::mem::take(&mut *self.lock());
        drop(dropped);
    }

    /// The most recently used idle instance of `key`, with its slot.
    pub(crate) fn take(&self, key: &str) -> Option<(I, Slot)> {
        let mut idle = self.lock();
        let list = idle.parked.get_mut(key)?;
        let parked = list.pop()?;
        if list.is_empty() {
            idle.parked.remove(key);
        }
        idle.count -= 1;
        Some((parked.instance, parked.slot))
    }

    /// A free slot: at once if there is one, else by dropping the least recently used idle
    /// instance, else by waiting (at most `timeout`) for a running activation to end.
    pub(crate) async fn slot(&self, timeout: Duration) -> Result<Slot, InvokeError> {
        loop {
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => return Ok(slot),
                Err(TryAcquireError::Closed) => return Err(InvokeError::ShuttingDown),
                Err(TryAcquireError::NoPermits) => {}
            }
            // Deciding between evicting and waiting under the lock `park` takes: an instance
            // parked after this sees the waiter and is dropped, so its slot reaches the waiter.
            let evicted = {
                let mut idle = self.lock();
                let oldest = idle.pop_oldest();
                if oldest.is_none() {
                    idle.waiting += 1;
                }
                oldest
            };
            match evicted {
                Some(parked) => drop(parked),
                None => break,
            }
        }
        let _waiting = Waiting(self);
        match tokio::time::timeout(timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(_closed)) => Err(InvokeError::ShuttingDown),
            Err(_) => Err(InvokeError::Timeout),
        }
    }

    /// Keeps `instance` for the next activation of `key`, unless an activation is waiting for
    /// a slot (then the slot goes to it) or the pool is closing.
    pub(crate) fn park(&self, key: String, instance: I, slot: Slot) {
        let parked = Parked {
            instance,
            slot,
            since: Instant::now(),
        };
        let mut dropped = Vec::new();
        {
            let mut idle = self.lock();
            if idle.waiting > 0 || self.max_idle == 0 || self.slots.is_closed() {
                dropped.push(parked);
            } else {
                idle.parked.entry(key).or_default().push(parked);
                idle.count += 1;
                while idle.count > self.max_idle {
                    dropped.extend(idle.pop_oldest());
                }
            }
        }
        // Dropping an instance returns its memory to the pool: done outside the lock.
        drop(dropped);
    }

    /// Drops the instances idle longer than the idle timeout.
    pub(crate) fn sweep(&self) {
        let Some(cutoff) = Instant::now().checked_sub(self.idle_timeout) else {
            return;
        };
        let mut dropped = Vec::new();
        {
            let mut idle = self.lock();
            let mut count = idle.count;
            idle.parked.retain(|_, list| {
                let before = list.len();
                let (old, kept): (Vec<Parked<I>>, Vec<Parked<I>>) =
                    list.drain(..).partition(|p| p.since <= cutoff);
                *list = kept;
                count -= before - list.len();
                dropped.extend(old);
                !list.is_empty()
            });
            idle.count = count;
        }
        drop(dropped);
    }

    /// Instances idle now.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.lock().count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle<I>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<I> Idle<I> {
    /// The least recently parked instance of any key.
    fn pop_oldest(&mut self) -> Option<Parked<I>> {
        let key = self
            .parked
            .iter()
            .filter_map(|(key, list)| list.first().map(|p| (p.since, key)))
            .min()
            .map(|(_, key)| key.clone())?;
        let list = self.parked.get_mut(&key)?;
        let oldest = list.remove(0);
        if list.is_empty() {
            self.parked.remove(&key);
        }
        self.count -= 1;
        Some(oldest)
    }
}

/// Counts a waiter for as long as it waits, however the wait ends.
struct Waiting<'a, I>(&'a InstancePool<I>);

impl<I> Drop for Waiting<'_, I> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    #[tokio::test]
    async fn an_instance_is_reused_for_its_own_key_only() {
        let pool = InstancePool::new(4, 4, LONG);
        let slot = pool.slot(LONG).await.unwrap();
        pool.park("a".into(), "instance of a", slot);
        assert!(pool.take("b").is_none());
        let (instance, slot) = pool.take("a").unwrap();
        assert_eq!(instance, "instance of a");
        assert!(pool.take("a").is_none(), "one activation at a time");
        pool.park("a".into(), instance, slot);
        assert_eq!(pool.idle(), 1);
    }

    #[tokio::test]
    async fn idle_instances_give_their_slots_to_activations_that_need_one() {
        let pool = InstancePool::new(2, 2, LONG);
        let (a, b) = (
            pool.slot(LONG).await.unwrap(),
            pool.slot(LONG).await.unwrap(),
        );
        pool.park("a".into(), 1, a);
        pool.park("b".into(), 2, b);
        // Every slot is held by an idle instance: the oldest is dropped for a new activation.
        let slot = pool.slot(Duration::from_millis(10)).await.unwrap();
        assert_eq!(pool.idle(), 1);
        assert!(pool.take("a").is_none() && pool.idle() == 1);
        drop(slot);
    }

    #[tokio::test]
    async fn an_instance_ending_while_an_activation_waits_is_dropped_for_it() {
        let pool = Arc::new(InstancePool::new(1, 4, LONG));
        let held = pool.slot(LONG).await.unwrap();
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.slot(LONG).await.map(drop) })
        };
        while pool.lock().waiting == 0 {
            tokio::task::yield_now().await;
        }
        pool.park("a".into(), 1, held);
        assert_eq!(pool.idle(), 0, "not kept: its slot went to the waiter");
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_bounded_number_stay_idle_and_not_for_long() {
        let pool = InstancePool::new(8, 2, LONG);
        for i in 0..3 {
            let slot = pool.slot(LONG).await.unwrap();
            pool.park(format!("k{i}"), i, slot);
        }
        assert_eq!(pool.idle(), 2);
        assert!(
            pool.take("k0").is_none(),
            "the least recently used went first"
        );

        let quick = InstancePool::new(2, 2, Duration::ZERO);
        let slot = quick.slot(LONG).await.unwrap();
        quick.park("a".into(), 1, slot);
        quick.sweep();
        assert_eq!(quick.idle(), 0);
        assert!(quick.slot(Duration::from_millis(10)).await.is_ok());
    }

    #[tokio::test]
    async fn waiting_for_a_slot_times_out_and_closing_refuses() {
        let pool: InstancePool<()> = InstancePool::new(1, 1, LONG);
        let _held = pool.slot(LONG).await.unwrap();
        assert_eq!(
            pool.slot(Duration::from_millis(20)).await.unwrap_err(),
            InvokeError::Timeout
        );
        assert_eq!(pool.lock().waiting, 0);
        pool.close();
        assert_eq!(
            pool.slot(LONG).await.unwrap_err(),
            InvokeError::ShuttingDown
        );
    }
}
