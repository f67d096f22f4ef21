//! `wisp activation poll`: print activations and their logs as they happen.
//!
//! Each second it asks for the full records that started since polling began and prints what it
//! has not printed yet; `Tracker` remembers what that is.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use wisp_wire::Activation;

use super::activation::name_filter;
use crate::client::Client;
use crate::config::Config;
use crate::names::encode_segment;
use crate::output::{document, or_dash, Printer};
use crate::time::now_millis;

const INTERVAL: Duration = Duration::from_secs(1);
/// The most records one list call returns; enough for a second's worth of activity.
const PAGE: u32 = 200;

#[derive(clap::Args, Debug)]
pub struct PollArgs {
    /// Only activations of this action (NAME, PACKAGE/NAME or /NAMESPACE/[PACKAGE/]NAME)
    pub name: Option<String>,

    /// Stop after this many seconds [default: run until Ctrl-C]
    #[arg(long = "exit", value_name = "SECONDS")]
    pub exit: Option<u64>,

    /// Also show activations that started up to this many seconds before polling began
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub since_seconds: u64,
}

pub async fn run(args: &PollArgs, config: &Config, printer: &mut Printer) -> anyhow::Result<()> {
    let (namespace, mut query) = name_filter(args.name.as_deref(), config)?;
    let since = now_millis() - (args.since_seconds as i64).saturating_mul(1000);
    query.extend([
        ("docs", "true".to_string()),
        ("since", since.to_string()),
        ("limit", PAGE.to_string()),
    ]);
    let path = format!("namespaces/{}/activations", encode_segment(&namespace));
    let client = Client::new(config)?;
    if !config.json {
        printer.note("polling for activation logs; press ctrl-c to stop")?;
    }
    let deadline = args.exit.map(|s| Instant::now() + Duration::from_secs(s));
    let mut tracker = Tracker::default();
    let polling = async {
        loop {
            let records = client.get(&path, &query).await?;
            let records = records.as_array().map(Vec::as_slice).unwrap_or_default();
            for line in tracker.update(records, config.json) {
                printer.line(line)?;
            }
            let mut pause = INTERVAL;
            if let Some(deadline) = deadline {
                // One last look at the deadline itself, so activations that finished just
                // before it are not missed.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(());
                }
                pause = pause.min(left);
            }
            tokio::time::sleep(pause).await;
        }
    };
    tokio::select! {
        result = polling => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// Remembers how much of each activation has been printed.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Activation id → number of its log lines already printed.
    printed: HashMap<String, usize>,
    /// Whose header the lines just printed belong to.
    current: Option<String>,
}

impl Tracker {
    /// The lines to print for one poll's records: activations not seen before, oldest first,
    /// and log lines that appeared since the last poll. With `json`, each new record once as a
    /// compact JSON line.
    pub fn update(&mut self, records: &[Value], json: bool) -> Vec<String> {
        let mut records: Vec<(&Value, Activation)> =
            records.iter().map(|r| (r, document(r))).collect();
        records.sort_by(|(_, a), (_, b)| {
            (a.start, &a.activation_id).cmp(&(b.start, &b.activation_id))
        });
        let mut lines = vec![];
        for (record, activation) in records {
            let id = activation.activation_id;
            if id.is_empty() {
                continue;
            }
            let logs = activation.logs.unwrap_or_default();
            let seen = self.printed.get(&id).copied();
            if json {
                if seen.is_none() {
                    lines.push(record.to_string());
                    self.printed.insert(id, logs.len());
                }
                continue;
            }
            let from = seen.unwrap_or(0);
            if seen.is_some() && logs.len() <= from {
                continue;
            }
            if self.current.as_deref() != Some(id.as_str()) {
                lines.push(format!(
                    "Activation: '{}' ({id})",
                    or_dash(&activation.name)
                ));
            }
            self.printed.insert(id.clone(), logs.len());
            lines.extend(logs.into_iter().skip(from));
            self.current = Some(id);
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str, start: i64, logs: &[&str]) -> Value {
        json!({"activationId": id, "name": "hello", "start": start, "logs": logs})
    }

    #[test]
    fn prints_new_activations_oldest_first_and_never_twice() {
        let mut tracker = Tracker::default();
        let first = [record("b", 2, &["b1"]), record("a", 1, &["a1", "a2"])];
        assert_eq!(
            tracker.update(&first, false),
            [
                "Activation: 'hello' (a)",
                "a1",
                "a2",
                "Activation: 'hello' (b)",
                "b1"
            ]
        );
        assert!(tracker.update(&first, false).is_empty());
        let second = [
            record("c", 3, &[]),
            record("b", 2, &["b1"]),
            record("a", 1, &["a1", "a2"]),
        ];
        assert_eq!(tracker.update(&second, false), ["Activation: 'hello' (c)"]);
    }

    #[test]
    fn logs_that_arrive_later_are_printed_once() {
        let mut tracker = Tracker::default();
        tracker.update(&[record("a", 1, &["a1"])], false);
        assert_eq!(
            tracker.update(&[record("a", 1, &["a1", "a2"])], false),
            ["a2"]
        );
        tracker.update(&[record("b", 2, &[])], false);
        // Another activation was printed in between, so the header comes again.
        assert_eq!(
            tracker.update(&[record("a", 1, &["a1", "a2", "a3"])], false),
            ["Activation: 'hello' (a)", "a3"]
        );
    }

    #[test]
    fn json_mode_prints_each_record_once() {
        let mut tracker = Tracker::default();
        let records = [record("a", 1, &["x"])];
        let lines = tracker.update(&records, true);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            serde_json::from_str::<Value>(&lines[0]).unwrap(),
            records[0]
        );
        assert!(tracker
            .update(&[record("a", 1, &["x", "y"])], true)
            .is_empty());
    }
}
