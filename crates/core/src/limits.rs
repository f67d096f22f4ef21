//! Per-action limits and the system ranges they must fall within.

use serde::{Deserialize, Serialize};

/// The limits of one action. Units as in OpenWhisk: timeout in milliseconds, memory and logs in
/// megabytes, concurrency as the number of activations one process may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLimits {
    pub timeout: u64,
    pub memory: u64,
    pub logs: u64,
    pub concurrency: u64,
}

/// The system-wide ranges and defaults, reported by `GET /` and `/namespaces/{ns}/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemLimits {
    pub min_timeout: u64,
    pub max_timeout: u64,
    pub min_memory: u64,
    pub max_memory: u64,
    pub min_logs: u64,
    pub max_logs: u64,
    pub min_concurrency: u64,
    pub max_concurrency: u64,
    pub defaults: ActionLimits,
    /// Largest code (`exec.code` plus `main`), in bytes.
    pub max_code_bytes: usize,
    /// Largest parameters or annotations document of one entity, in bytes.
    pub max_parameter_bytes: usize,
    /// Largest invoke request body, in bytes.
    pub max_payload_bytes: usize,
    /// Largest action result kept whole, in bytes.
    pub max_result_bytes: usize,
    /// n: most actions in a sequence (after inlining nested ones), most components per
    /// conductor composition tree (with at most 2n + 1 conductor runs).
    pub max_sequence_length: usize,
    /// The throttles of a namespace that has no overrides of its own.
    pub throttles: Throttles,
}

/// What one namespace may do: invocations and trigger fires per minute (fixed one-minute
/// windows, as OpenWhisk counts), and activations in flight at once. Beyond any of them, 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttles {
    pub invocations_per_minute: u64,
    pub concurrent_invocations: u64,
    pub fires_per_minute: u64,
}

impl Throttles {
    /// These values with a namespace's overrides applied.
    pub fn with(self, overrides: &NamespaceLimits) -> Throttles {
        Throttles {
            invocations_per_minute: overrides
                .invocations_per_minute
                .unwrap_or(self.invocations_per_minute),
            concurrent_invocations: overrides
                .concurrent_invocations
                .unwrap_or(self.concurrent_invocations),
            fires_per_minute: overrides.fires_per_minute.unwrap_or(self.fires_per_minute),
        }
    }
}

/// An administrator's overrides of the system throttles for one namespace (OpenWhisk's user
/// limits); `None` keeps the system value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceLimits {
    pub invocations_per_minute: Option<u64>,
    pub concurrent_invocations: Option<u64>,
    pub fires_per_minute: Option<u64>,
}

impl NamespaceLimits {
    pub fn is_empty(&self) -> bool {
        *self == NamespaceLimits::default()
    }

    /// These overrides with those set in `newer` replacing them.
    pub fn updated(self, newer: NamespaceLimits) -> NamespaceLimits {
        NamespaceLimits {
            invocations_per_minute: newer.invocations_per_minute.or(self.invocations_per_minute),
            concurrent_invocations: newer.concurrent_invocations.or(self.concurrent_invocations),
            fires_per_minute: newer.fires_per_minute.or(self.fires_per_minute),
        }
    }
}

impl Default for SystemLimits {
    fn default() -> Self {
        const MB: usize = 1024 * 1024;
        Self {
            min_timeout: 100,
            max_timeout: 300_000,
            min_memory: 128,
            max_memory: 512,
            min_logs: 0,
            max_logs: 10,
            min_concurrency: 1,
            max_concurrency: 200,
            defaults: ActionLimits {
                timeout: 60_000,
                memory: 256,
                logs: 10,
                concurrency: 1,
            },
            max_code_bytes: 48 * MB,
            max_parameter_bytes: MB,
            max_payload_bytes: MB,
            max_result_bytes: MB,
            max_sequence_length: 50,
            // High enough that one machine never reaches them by default (about 16,000/s);
            // operators of shared installations lower them, or set them per namespace.
            throttles: Throttles {
                invocations_per_minute: 1_000_000,
                concurrent_invocations: 1_000,
                fires_per_minute: 1_000_000,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitError(pub String);

/// Limits as a client supplied them: every field optional, filled from defaults or old values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsPatch {
    pub timeout: Option<u64>,
    pub memory: Option<u64>,
    pub logs: Option<u64>,
    pub concurrency: Option<u64>,
}

impl SystemLimits {
    /// Applies `patch` over `base` and checks every value against the system ranges.
    pub fn resolve(
        &self,
        base: ActionLimits,
        patch: LimitsPatch,
    ) -> Result<ActionLimits, LimitError> {
        let limits = ActionLimits {
            timeout: patch.timeout.unwrap_or(base.timeout),
            memory: patch.memory.unwrap_or(base.memory),
            logs: patch.logs.unwrap_or(base.logs),
            concurrency: patch.concurrency.unwrap_or(base.concurrency),
        };
        check(
            "timeout",
            limits.timeout,
            self.min_timeout,
            self.max_timeout,
            " milliseconds",
        )?;
        check(
            "memory",
            limits.memory,
            self.min_memory,
            self.max_memory,
            " MB",
        )?;
        check("log size", limits.logs, self.min_logs, self.max_logs, " MB")?;
        check(
            "concurrency",
            limits.concurrency,
            self.min_concurrency,
            self.max_concurrency,
            "",
        )?;
        Ok(limits)
    }
}

fn check(what: &str, value: u64, min: u64, max: u64, unit: &str) -> Result<(), LimitError> {
    if value < min {
        Err(LimitError(format!(
            "{what} {value}{unit} below allowed threshold of {min}{unit}"
        )))
    } else if value > max {
        Err(LimitError(format!(
            "{what} {value}{unit} exceeds allowed threshold of {max}{unit}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_merge_over_defaults_and_are_range_checked() {
        let sys = SystemLimits::default();
        let limits = sys
            .resolve(
                sys.defaults,
                LimitsPatch {
                    memory: Some(128),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(limits.memory, 128);
        assert_eq!(limits.timeout, 60_000);

        let err = sys
            .resolve(
                sys.defaults,
                LimitsPatch {
                    memory: Some(1024),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.0, "memory 1024 MB exceeds allowed threshold of 512 MB");
        let err = sys
            .resolve(
                sys.defaults,
                LimitsPatch {
                    timeout: Some(50),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(
            err.0,
            "timeout 50 milliseconds below allowed threshold of 100 milliseconds"
        );
    }

    #[test]
    fn namespace_overrides_replace_only_what_they_set() {
        let system = SystemLimits::default().throttles;
        let overrides = NamespaceLimits {
            fires_per_minute: Some(5),
            ..Default::default()
        };
        let applied = system.with(&overrides);
        assert_eq!(applied.fires_per_minute, 5);
        assert_eq!(
            applied.invocations_per_minute,
            system.invocations_per_minute
        );
        assert_eq!(system.with(&NamespaceLimits::default()), system);

        let newer = NamespaceLimits {
            invocations_per_minute: Some(10),
            fires_per_minute: Some(7),
            ..Default::default()
        };
        let merged = overrides.updated(newer);
        assert_eq!(merged.invocations_per_minute, Some(10));
        assert_eq!(merged.fires_per_minute, Some(7));
        assert_eq!(merged.concurrent_invocations, None);
        assert!(NamespaceLimits::default().is_empty() && !merged.is_empty());
    }
}
