//! Latency samples and their percentiles.

use std::time::Duration;

use serde_json::{json, Value};

#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    fn percentile_us(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index].as_secs_f64() * 1e6
    }

    pub fn p50_us(&self) -> f64 {
        self.percentile_us(0.5)
    }

    pub fn p99_us(&self) -> f64 {
        self.percentile_us(0.99)
    }

    pub fn json(&self) -> Value {
        json!({"n": self.0.len(), "p50_us": self.p50_us(), "p99_us": self.p99_us()})
    }

    pub fn summary(&self) -> String {
        format!(
            "p50 {} · p99 {} (n={})",
            human(self.p50_us()),
            human(self.p99_us()),
            self.0.len()
        )
    }
}

fn human(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}
