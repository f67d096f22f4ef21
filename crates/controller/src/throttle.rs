//! Per-namespace throttles: activations in flight, invocations per minute and trigger fires per
//! minute. The values to apply come with each call (the caller's [`Throttles`], with its
//! namespace's overrides), so a namespace at its limits is refused at once and costs the others
//! nothing but a short lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wisp_core::time::now_ms;
use wisp_core::Throttles;

use crate::ControllerError;

#[derive(Default)]
pub struct Throttle {
    in_flight: Arc<Mutex<HashMap<String, u64>>>,
    invocations: Windows,
    fires: Windows,
}

/// Why an invocation or a fire was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Concurrent { count: u64, allowed: u64 },
    PerMinute { count: u64, allowed: u64 },
}

impl Refused {
    /// The invocation limit's name, as a metric label.
    pub fn limit(&self) -> &'static str {
        match self {
            Refused::Concurrent { .. } => "concurrent_invocations",
            Refused::PerMinute { .. } => "invocations_per_minute",
        }
    }
}

impl From<Refused> for ControllerError {
    fn from(refused: Refused) -> Self {
        ControllerError::TooManyRequests(match refused {
            Refused::Concurrent { count, allowed } => format!(
                "Too many concurrent requests in flight (count: {count}, allowed: {allowed})."
            ),
            Refused::PerMinute { count, allowed } => format!(
                "Too many requests in the last minute (count: {count}, allowed: {allowed})."
            ),
        })
    }
}

/// One activation's place in its namespace's count; released on drop.
pub struct Permit {
    namespace: String,
    in_flight: Arc<Mutex<HashMap<String, u64>>>,
}

/// Counts per namespace in fixed one-minute windows, as OpenWhisk counts: (minute, count).
#[derive(Default)]
struct Windows(Mutex<HashMap<String, (u64, u64)>>);

impl Windows {
    /// Counts one more in the namespace's window of `minute`, unless `allowed` are counted.
    fn take(&self, namespace: &str, minute: u64, allowed: u64) -> Result<(), Refused> {
        let mut windows = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows.entry(namespace.to_string()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= allowed {
            return Err(Refused::PerMinute {
                count: window.1,
                allowed,
            });
        }
        window.1 += 1;
        Ok(())
    }
}

impl Throttle {
    /// A permit for one invocation, or why the namespace is at one of its limits.
    pub fn admit(&self, namespace: &str, limits: &Throttles) -> Result<Permit, Refused> {
        self.admit_in(namespace, limits, now_ms() / 60_000)
    }

    /// Counts one trigger fire, or says why the namespace is at its limit.
    pub fn fire(&self, namespace: &str, limits: &Throttles) -> Result<(), Refused> {
        self.fires
            .take(namespace, now_ms() / 60_000, limits.fires_per_minute)
    }

    fn admit_in(
        &self,
        namespace: &str,
        limits: &Throttles,
        minute: u64,
    ) -> Result<Permit, Refused> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let count = in_flight.entry(namespace.to_string()).or_default();
        if *count >= limits.concurrent_invocations {
            return Err(Refused::Concurrent {
                count: *count,
                allowed: limits.concurrent_invocations,
            });
        }
        self.invocations
            .take(namespace, minute, limits.invocations_per_minute)?;
        *count += 1;
        Ok(Permit {
            namespace: namespace.to_string(),
            in_flight: self.in_flight.clone(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = in_flight.get_mut(&self.namespace) {
            *count = count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrent: u64, per_minute: u64, fires: u64) -> Throttles {
        Throttles {
            invocations_per_minute: per_minute,
            concurrent_invocations: concurrent,
            fires_per_minute: fires,
        }
    }

    fn per_minute(count: u64, allowed: u64) -> Option<Refused> {
        Some(Refused::PerMinute { count, allowed })
    }

    #[test]
    fn permits_are_counted_per_namespace_and_released_on_drop() {
        let t = Throttle::default();
        let one = limits(1, 100, 100);
        let first = t.admit("a", &one).unwrap();
        assert_eq!(
            t.admit("a", &one).err(),
            Some(Refused::Concurrent {
                count: 1,
                allowed: 1
            })
        );
        assert!(t.admit("b", &one).is_ok());
        drop(first);
        assert!(t.admit("a", &one).is_ok());
    }

    #[test]
    fn invocations_per_minute_are_counted_in_fixed_windows() {
        let t = Throttle::default();
        let two = limits(10, 2, 100);
        drop(t.admit_in("a", &two, 7).unwrap());
        drop(t.admit_in("a", &two, 7).unwrap());
        assert_eq!(t.admit_in("a", &two, 7).err(), per_minute(2, 2));
        assert!(t.admit_in("b", &two, 7).is_ok());
        assert!(t.admit_in("a", &two, 8).is_ok(), "a new minute starts over");
    }

    #[test]
    fn a_refused_invocation_is_not_counted() {
        let t = Throttle::default();
        let held = t.admit_in("a", &limits(1, 2, 100), 7).unwrap();
        assert!(t.admit_in("a", &limits(1, 2, 100), 7).is_err());
        drop(held);
        assert!(t.admit_in("a", &limits(1, 2, 100), 7).is_ok());
        assert_eq!(
            t.admit_in("a", &limits(1, 2, 100), 7).err(),
            per_minute(2, 2)
        );
    }

    #[test]
    fn each_call_applies_the_limits_it_is_given() {
        // An override raised or lowered between calls takes effect on the next one; the counts
        // so far are kept.
        let t = Throttle::default();
        drop(t.admit_in("a", &limits(10, 1, 100), 7).unwrap());
        assert!(t.admit_in("a", &limits(10, 1, 100), 7).is_err());
        assert!(t.admit_in("a", &limits(10, 5, 100), 7).is_ok());
        assert_eq!(
            t.admit_in("a", &limits(10, 0, 100), 7).err(),
            per_minute(2, 0)
        );
    }

    #[test]
    fn fires_are_counted_apart_from_invocations() {
        let t = Throttle::default();
        let one_fire = limits(10, 10, 1);
        t.fire("a", &one_fire).unwrap();
        assert_eq!(t.fire("a", &one_fire).err(), per_minute(1, 1));
        assert!(t.fire("b", &one_fire).is_ok());
        assert!(
            t.admit("a", &one_fire).is_ok(),
            "invocations have their own count"
        );
    }

    #[test]
    fn refusals_read_as_openwhisk_words_them() {
        let e = ControllerError::from(Refused::PerMinute {
            count: 3,
            allowed: 3,
        });
        assert_eq!(
            e,
            ControllerError::TooManyRequests(
                "Too many requests in the last minute (count: 3, allowed: 3).".into()
            )
        );
        let e = ControllerError::from(Refused::Concurrent {
            count: 1,
            allowed: 1,
        });
        assert_eq!(
            e.to_string(),
            "Too many concurrent requests in flight (count: 1, allowed: 1)."
        );
    }
}
