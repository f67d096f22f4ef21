//! Per-namespace throttles: activations in flight, and invocations per minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wisp_core::time::now_ms;

pub struct Throttle {
    limit: u64,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    per_minute: u64,
    /// Fixed one-minute windows, as OpenWhisk counts: (minute, count) per namespace.
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

/// Why an invocation was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Concurrent { count: u64, allowed: u64 },
    PerMinute { count: u64, allowed: u64 },
}

/// One activation's place in its namespace's count; released on drop.
pub struct Permit {
    namespace: String,
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl Throttle {
    pub fn new(limit: u64, per_minute: u64) -> Throttle {
        Throttle {
            limit,
            counts: Arc::default(),
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// A permit, or why the namespace is at one of its limits.
    pub fn admit(&self, namespace: &str) -> Result<Permit, Refused> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(namespace.to_string()).or_default();
        if *count >= self.limit {
            return Err(Refused::Concurrent {
                count: *count,
                allowed: self.limit,
            });
        }
        let minute = now_ms() / 60_000;
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(namespace.to_string()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= self.per_minute {
            return Err(Refused::PerMinute {
                count: window.1,
                allowed: self.per_minute,
            });
        }
        window.1 += 1;
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
        let t = Throttle::new(1, 100);
        let first = t.admit("a").unwrap();
        assert_eq!(
            t.admit("a").err(),
            Some(Refused::Concurrent {
                count: 1,
                allowed: 1
            })
        );
        assert!(t.admit("b").is_ok());
        drop(first);
        assert!(t.admit("a").is_ok());
    }

    #[test]
    fn invocations_per_minute_are_counted() {
        let t = Throttle::new(10, 2);
        drop(t.admit("a").unwrap());
        drop(t.admit("a").unwrap());
        assert_eq!(
            t.admit("a").err(),
            Some(Refused::PerMinute {
                count: 2,
                allowed: 2
            })
        );
        assert!(t.admit("b").is_ok());
    }
}
