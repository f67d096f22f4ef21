//! The platform's Prometheus metrics: one registry of typed families that the API, the
//! controller and the invoker record into, and its text exposition for `/metrics`.
//!
//! Labels are bounded: routes are the router's templates (never raw paths), outcomes and start
//! types are closed sets, kinds and namespaces are what operators created. Action names are a
//! label only when the operator asks for it ([`Metrics::new`]'s `per_action`), since a tenant
//! can create them without bound.
//!
//! Recording is a hash lookup and an atomic add; nothing here blocks or allocates more than
//! the label set of the observation.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use wisp_core::invoke::{PoolSnapshot, StartKind};
use wisp_core::Outcome;

/// A label set: names fixed by the family, values from the observation.
type Labels = Vec<(&'static str, String)>;

/// The `outcome` label of an activation's status.
fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::ApplicationError => "application_error",
        Outcome::DeveloperError => "developer_error",
        Outcome::InternalError => "internal_error",
    }
}

/// The `start` label: how the activation found its runtime, `none` when nothing was started
/// (a sequence, a conductor, a trigger).
fn start_label(start: Option<StartKind>) -> &'static str {
    match start {
        Some(StartKind::Cold) => "cold",
        Some(StartKind::StemCell) => "stem_cell",
        Some(StartKind::Warm) => "warm",
        None => "none",
    }
}

/// One finished activation, as the controller records it.
pub struct Finished<'a> {
    pub namespace: &'a str,
    pub action: &'a str,
    pub kind: &'a str,
    pub outcome: Outcome,
    /// How it found its runtime; `None` when nothing was started.
    pub start: Option<StartKind>,
    pub wait: Duration,
    pub init: Option<Duration>,
    pub run: Duration,
}

/// The platform's metric families.
pub struct Metrics {
    registry: Registry,
    /// Off: nothing is recorded (`--metrics-listen off`).
    enabled: bool,
    per_action: bool,
    http_requests: Family<Labels, Counter>,
    activations: Family<Labels, Counter>,
    wait: Family<Labels, Histogram>,
    init: Family<Labels, Histogram>,
    run: Family<Labels, Histogram>,
    throttled: Family<Labels, Counter>,
    processes: Family<Labels, Gauge>,
    memory_reserved: Gauge,
    kv_commands: Family<Labels, Counter>,
    object_bytes: Family<Labels, Counter>,
    trigger_fires: Family<Labels, Counter>,
    store_writes: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("per_action", &self.per_action)
            .finish_non_exhaustive()
    }
}

/// Latency buckets from half a millisecond to about a minute, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

impl Metrics {
    /// A registry with every family; `per_action` adds the action's name to activation
    /// counts.
    pub fn new(per_action: bool) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("wisp");
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "API requests by method, route template and status",
            http_requests.clone(),
        );
        let activations = Family::default();
        registry.register(
            "activations",
            "Finished activations by namespace, kind, outcome and start (cold, stem_cell, warm or none)",
            activations.clone(),
        );
        let histogram = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<Labels, Histogram>::new_with_constructor(latency as fn() -> _);
            registry.register_with_unit(
                name,
                help,
                prometheus_client::registry::Unit::Seconds,
                family.clone(),
            );
            family
        };
        let wait = histogram(
            &mut registry,
            "activation_wait",
            "Time from an activation's arrival to its start, by kind",
        );
        let init = histogram(
            &mut registry,
            "activation_init",
            "Initialisation time of cold activations, by kind",
        );
        let run = histogram(
            &mut registry,
            "activation_run",
            "Activation duration as recorded (initialisation included on a cold start), by kind",
        );
        let throttled = Family::default();
        registry.register(
            "throttled",
            "Requests refused by a namespace's limits, by namespace and limit",
            throttled.clone(),
        );
        let processes = Family::default();
        registry.register(
            "processes",
            "Runtime processes by kind and state (warm, busy, stem_cell)",
            processes.clone(),
        );
        let memory_reserved = Gauge::default();
        registry.register_with_unit(
            "process_memory_reserved",
            "Memory reserved by runtime processes",
            prometheus_client::registry::Unit::Bytes,
            memory_reserved.clone(),
        );
        let kv_commands = Family::default();
        registry.register(
            "kv_commands",
            "Key-value commands by outcome (ok or error), from every client: RESP, REST, declared state, wasm",
            kv_commands.clone(),
        );
        let object_bytes = Family::default();
        registry.register_with_unit(
            "object",
            "Bytes written to (in) and read from (out) object storage, by every client",
            prometheus_client::registry::Unit::Bytes,
            object_bytes.clone(),
        );
        let trigger_fires = Family::default();
        registry.register(
            "trigger_fires",
            "Trigger fires accepted, by namespace (through the API or a feed)",
            trigger_fires.clone(),
        );
        let store_writes = latency();
        registry.register_with_unit(
            "activation_store_write",
            "Time from a finished record's hand-off to its commit (the writer's lag)",
            prometheus_client::registry::Unit::Seconds,
            store_writes.clone(),
        );
        Arc::new(Metrics {
            registry,
            enabled: true,
            per_action,
            http_requests,
            activations,
            wait,
            init,
            run,
            throttled,
            processes,
            memory_reserved,
            kv_commands,
            object_bytes,
            trigger_fires,
            store_writes,
        })
    }

    /// Metrics that record nothing, for a server that exports none.
    pub fn disabled() -> Arc<Metrics> {
        let mut metrics = Metrics::new(false);
        Arc::get_mut(&mut metrics)
            .expect("a new Arc is unique")
            .enabled = false;
        metrics
    }

    /// The OpenMetrics text exposition of every family.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16) {
        if !self.enabled {
            return;
        }
        self.http_requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    pub fn activation(&self, finished: Finished<'_>) {
        if !self.enabled {
            return;
        }
        let mut labels = vec![
            ("namespace", finished.namespace.to_owned()),
            ("kind", finished.kind.to_owned()),
            ("outcome", outcome_label(finished.outcome).to_owned()),
            ("start", start_label(finished.start).to_owned()),
        ];
        if self.per_action {
            labels.push(("action", finished.action.to_owned()));
        }
        self.activations.get_or_create(&labels).inc();
        let kind = vec![("kind", finished.kind.to_owned())];
        self.wait
            .get_or_create(&kind)
            .observe(finished.wait.as_secs_f64());
        if let Some(init) = finished.init {
            self.init.get_or_create(&kind).observe(init.as_secs_f64());
        }
        self.run
            .get_or_create(&kind)
            .observe(finished.run.as_secs_f64());
    }

    /// A request refused by `limit` (`invocations_per_minute`, `concurrent_invocations`,
    /// `fires_per_minute`).
    pub fn throttled(&self, namespace: &str, limit: &str) {
        if !self.enabled {
            return;
        }
        self.throttled
            .get_or_create(&vec![
                ("namespace", namespace.to_owned()),
                ("limit", limit.to_owned()),
            ])
            .inc();
    }

    /// The pools' sizes now. Kind and state pairs absent from `pool` read 0.
    pub fn pool(&self, pool: &PoolSnapshot) {
        if !self.enabled {
            return;
        }
        self.processes.clear();
        for runtimes in &pool.runtimes {
            self.processes
                .get_or_create(&vec![
                    ("kind", runtimes.kind.to_owned()),
                    ("state", runtimes.state.to_owned()),
                ])
                .set(i64::try_from(runtimes.count).unwrap_or(i64::MAX));
        }
        self.memory_reserved
            .set(i64::try_from(pool.reserved_bytes).unwrap_or(i64::MAX));
    }

    /// Key-value commands answered: `ok` succeeded, `failed` got an error reply.
    pub fn kv_commands(&self, ok: u64, failed: u64) {
        if !self.enabled {
            return;
        }
        for (outcome, count) in [("ok", ok), ("error", failed)] {
            if count > 0 {
                self.kv_commands
                    .get_or_create(&vec![("outcome", outcome.to_owned())])
                    .inc_by(count);
            }
        }
    }

    /// Bytes stored (`stored`) or read from object storage.
    pub fn object_bytes(&self, stored: bool, bytes: u64) {
        if !self.enabled {
            return;
        }
        let direction = if stored { "in" } else { "out" };
        self.object_bytes
            .get_or_create(&vec![("direction", direction.to_owned())])
            .inc_by(bytes);
    }

    pub fn trigger_fire(&self, namespace: &str) {
        if !self.enabled {
            return;
        }
        self.trigger_fires
            .get_or_create(&vec![("namespace", namespace.to_owned())])
            .inc();
    }

    /// How long one finished record took to be committed.
    pub fn store_write(&self, took: Duration) {
        if !self.enabled {
            return;
        }
        self.store_writes.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wisp_core::invoke::PoolCount;

    #[test]
    fn activations_are_counted_by_their_labels_and_timed_by_kind() {
        let metrics = Metrics::new(false);
        for outcome in [Outcome::Success, Outcome::Success, Outcome::DeveloperError] {
            metrics.activation(Finished {
                namespace: "guest",
                action: "hello",
                kind: "nodejs:20",
                outcome,
                start: Some(StartKind::Warm),
                wait: Duration::from_millis(1),
                init: None,
                run: Duration::from_millis(3),
            });
        }
        let text = metrics.encode();
        assert!(text.contains(
            "wisp_activations_total{namespace=\"guest\",kind=\"nodejs:20\",outcome=\"success\",start=\"warm\"} 2\n"
        ), "{text}");
        assert!(
            text.contains("outcome=\"developer_error\",start=\"warm\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("hello"),
            "no action names unless asked: {text}"
        );
        assert!(
            text.contains("wisp_activation_run_seconds_count{kind=\"nodejs:20\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "wisp_activation_run_seconds_bucket{le=\"0.004\",kind=\"nodejs:20\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn per_action_labels_only_when_asked() {
        let metrics = Metrics::new(true);
        metrics.activation(Finished {
            namespace: "guest",
            action: "hello",
            kind: "python:3",
            outcome: Outcome::Success,
            start: Some(StartKind::Cold),
            wait: Duration::ZERO,
            init: Some(Duration::from_millis(9)),
            run: Duration::ZERO,
        });
        let text = metrics.encode();
        assert!(
            text.contains("start=\"cold\",action=\"hello\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("wisp_activation_init_seconds_count{kind=\"python:3\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn disabled_metrics_record_nothing() {
        let metrics = Metrics::disabled();
        metrics.http_request("GET", "/", 200);
        metrics.throttled("guest", "invocations_per_minute");
        assert!(!metrics.encode().contains("wisp_http_requests_total"));
        assert!(!metrics.encode().contains("wisp_throttled_total"));
    }

    #[test]
    fn the_pool_gauges_show_only_what_exists_now() {
        let metrics = Metrics::new(false);
        let pool = |runtimes: &[(&'static str, &'static str, usize)], reserved_bytes| {
            metrics.pool(&PoolSnapshot {
                runtimes: runtimes
                    .iter()
                    .map(|&(kind, state, count)| PoolCount { kind, state, count })
                    .collect(),
                reserved_bytes,
                ..PoolSnapshot::default()
            })
        };
        pool(
            &[("nodejs:20", "stem_cell", 2), ("python:3", "warm", 1)],
            512 << 20,
        );
        pool(&[("nodejs:20", "stem_cell", 1)], 256 << 20);
        let text = metrics.encode();
        assert!(
            text.contains("wisp_processes{kind=\"nodejs:20\",state=\"stem_cell\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("python:3"), "{text}");
        assert!(
            text.contains("wisp_process_memory_reserved_bytes 268435456\n"),
            "{text}"
        );
    }
}
