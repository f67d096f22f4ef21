//! Per-namespace cap on activations in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct Throttle {
    limit: u64,
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

/// One activation's place in its namespace's count; released on drop.
pub struct Permit {
    namespace: String,
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl Throttle {
    pub fn new(limit: u64) -> Throttle {
        Throttle {
            limit,
            counts: Arc::default(),
        }
    }

    /// A permit, or the current count when the namespace is at its limit.
    pub fn admit(&self, namespace: &str) -> Result<Permit, (u64, u64)> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(namespace.to_string()).or_default();
        if *count >= self.limit {
            return Err((*count, self.limit));
        }
        *count += 1;
        Ok(Permit {
            namespace: namespace.to_string(),
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.namespace) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_per_namespace_and_released_on_drop() {
        let t = Throttle::new(1);
        let first = t.admit("a").unwrap();
        assert_eq!(t.admit("a").err(), Some((1, 1)));
        assert!(t.admit("b").is_ok());
        drop(first);
        assert!(t.admit("a").is_ok());
    }
}
