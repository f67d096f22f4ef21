//! Latency samples and their percentiles.

use std::time::Duration;

use serde_json::{json, Value};

/// Microseconds. Kept as `f64` because a latency read off two wall clocks can come out
/// slightly negative, and dropping or clamping those would bias the percentiles.
#[derive(Default, Clone)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.push_us(d.as_secs_f64() * 1e6);
    }

    pub fn push_us(&mut self, us: f64) {
        self.0.push(us);
    }

    /// Adds another round's samples.
    pub fn append(&mut self, mut other: Samples) {
        self.0.append(&mut other.0);
    }

    fn percentile_us(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    pub fn p50_us(&self) -> f64 {
        self.percentile_us(0.5)
    }

    pub fn p90_us(&self) -> f64 {
        self.percentile_us(0.9)
    }

    pub fn p99_us(&self) -> f64 {
        self.percentile_us(0.99)
    }

    pub fn json(&self) -> Value {
        json!({"n": self.0.len(), "p50_us": self.p50_us(), "p90_us": self.p90_us(), "p99_us": self.p99_us()})
    }

    pub fn summary(&self) -> String {
        self.summary_with("p99", 0.99)
    }

    /// For small samples, where p99 is one or two values.
    pub fn summary_p90(&self) -> String {
        self.summary_with("p90", 0.9)
    }

    fn summary_with(&self, name: &str, p: f64) -> String {
        format!(
            "p50 {} · {name} {} (n={})",
            human(self.p50_us()),
            human(self.percentile_us(p)),
            self.0.len()
        )
    }
}

fn human(us: f64) -> String {
    if us.abs() >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}
