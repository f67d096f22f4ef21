//! `wisp activation get ID --tree`: a composition's activations as a tree.
//!
//! The record of a sequence or conductor action (annotation `kind: "sequence"`) lists the ids
//! of its direct children in `logs`, in the order they ran; a child that is itself a
//! composition lists its own. `collect` reads the records the tree needs through the lookup it
//! is given (the only IO, kept in `activation.rs`); `walk` and `render` are pure.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use wisp_wire::Activation;

use super::activation::{duration, path, status};
use crate::output::{self, cell, document};

/// A record as the server sent it, which `--json` prints whole, and typed, which the tree
/// reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub json: Value,
    pub activation: Activation,
}

impl Record {
    pub fn new(json: Value) -> Record {
        let activation = document(&json);
        Record { json, activation }
    }

    /// Whether it is a composition's, whose `logs` are the ids of its children rather than
    /// log lines.
    pub fn is_composition(&self) -> bool {
        self.activation.annotation("kind") == Some(&Value::from("sequence"))
    }

    /// The activation ids a composition's record lists, in order; none for any other record.
    pub fn child_ids(&self) -> &[String] {
        match &self.activation.logs {
            Some(ids) if self.is_composition() => ids,
            _ => &[],
        }
    }

    fn id(&self) -> &str {
        &self.activation.activation_id
    }
}

/// Every record below `root`, by id, read with `find` (`None`: no such record, yet). Each id
/// is looked up once.
pub async fn collect(
    root: &Record,
    find: impl AsyncFn(&str) -> anyhow::Result<Option<Value>>,
) -> anyhow::Result<HashMap<String, Record>> {
    let mut records = HashMap::new();
    let mut seen: HashSet<String> = HashSet::from([root.id().to_string()]);
    // A stack holding each record's children last first, so they are read in order.
    let mut todo: Vec<String> = root.child_ids().iter().rev().cloned().collect();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(found) = find(&id).await? {
            let record = Record::new(found);
            todo.extend(record.child_ids().iter().rev().cloned());
            records.insert(id, record);
        }
    }
    Ok(records)
}

/// One line of the tree.
#[derive(Debug, PartialEq)]
pub struct Entry<'a> {
    /// The branches drawn before the id (`├─ `, `│  └─ `, ...); empty for the root.
    pub prefix: String,
    pub id: &'a str,
    /// `None` when the record was not found, or would repeat one of its ancestors.
    pub record: Option<&'a Record>,
    pub note: Option<&'static str>,
}

/// The tree under `root` in the order it ran, depth first.
pub fn walk<'a>(root: &'a Record, records: &'a HashMap<String, Record>) -> Vec<Entry<'a>> {
    let id = match root.id() {
        "" => "-",
        id => id,
    };
    let mut entries = vec![Entry {
        prefix: String::new(),
        id,
        record: Some(root),
        note: None,
    }];
    let mut ancestors = vec![id];
    children(root, "", records, &mut ancestors, &mut entries);
    entries
}

fn children<'a>(
    parent: &'a Record,
    indent: &str,
    records: &'a HashMap<String, Record>,
    ancestors: &mut Vec<&'a str>,
    entries: &mut Vec<Entry<'a>>,
) {
    let ids = parent.child_ids();
    let count = ids.len();
    for (i, id) in ids.iter().enumerate() {
        let id = id.as_str();
        let (branch, below) = if i + 1 == count {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let prefix = format!("{indent}{branch}");
        let (record, note) = match records.get(id) {
            // Only a broken record could lead back up the tree; stop there rather than loop.
            _ if ancestors.contains(&id) => (None, Some("(cycle)")),
            Some(record) => (Some(record), None),
            None => (None, Some("(not found)")),
        };
        entries.push(Entry {
            prefix,
            id,
            record,
            note,
        });
        if let Some(record) = record {
            ancestors.push(id);
            children(
                record,
                &format!("{indent}{below}"),
                records,
                ancestors,
                entries,
            );
            ancestors.pop();
        }
    }
}

/// Aligned lines: id, the action that ran, its kind, status and duration.
pub fn render(entries: &[Entry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            let id = format!("{}{}", entry.prefix, entry.id);
            match entry.record {
                Some(record) => {
                    let activation = &record.activation;
                    vec![
                        id,
                        path(activation),
                        kind(record),
                        status(activation).into(),
                        duration(activation),
                    ]
                }
                None => vec![id, entry.note.unwrap_or_default().into()],
            }
        })
        .collect();
    output::columns(&rows)
}

/// The runtime kind, or `sequence` (with `(conductor)` for a conductor action's record).
fn kind(record: &Record) -> String {
    let activation = &record.activation;
    let kind = cell(activation.annotation("kind"));
    if record.is_composition() && activation.annotation("conductor") == Some(&Value::Bool(true)) {
        format!("{kind} (conductor)")
    } else {
        kind
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record_json(id: &str, path: &str, kind: &str, duration: i64, logs: &[&str]) -> Value {
        json!({
            "activationId": id, "namespace": "guest", "name": path.rsplit('/').next(),
            "duration": duration, "response": {"status": "success", "statusCode": 0},
            "annotations": [{"key": "path", "value": path}, {"key": "kind", "value": kind}],
            "logs": logs,
        })
    }

    fn record(id: &str, path: &str, kind: &str, duration: i64, logs: &[&str]) -> Record {
        Record::new(record_json(id, path, kind, duration, logs))
    }

    fn conductor(id: &str, logs: &[&str]) -> Record {
        let mut json = record_json(id, "guest/pipeline", "sequence", 23, logs);
        json["annotations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "conductor", "value": true}));
        Record::new(json)
    }

    fn by_id(records: &[Record]) -> HashMap<String, Record> {
        records
            .iter()
            .map(|r| (r.activation.activation_id.clone(), r.clone()))
            .collect()
    }

    #[test]
    fn only_compositions_have_children() {
        let plain = record(
            "a",
            "guest/a",
            "nodejs:20",
            1,
            &["2024-01-01T00:00:00Z stdout: x"],
        );
        assert!(plain.child_ids().is_empty());
        let seq = record("s", "guest/s", "sequence", 1, &["a", "b"]);
        assert_eq!(seq.child_ids(), ["a", "b"]);
        assert!(Record::new(json!({})).child_ids().is_empty());
    }

    #[test]
    fn a_conductor_with_a_nested_sequence() {
        let root = conductor("c0", &["c1", "s1", "c2"]);
        let records = by_id(&[
            record("c1", "guest/pipeline", "nodejs:20", 12, &[]),
            record("s1", "guest/pair", "sequence", 8, &["a1", "b1"]),
            record(
                "a1",
                "guest/inc",
                "nodejs:20",
                5,
                &["2024-01-01T00:00:00Z stdout: a"],
            ),
            record("b1", "guest/tools/double", "python:3", 3, &[]),
            record("c2", "guest/pipeline", "nodejs:20", 3, &[]),
        ]);
        assert_eq!(
            render(&walk(&root, &records)),
            "c0        guest/pipeline      sequence (conductor)  success  23ms\n\
             ├─ c1     guest/pipeline      nodejs:20             success  12ms\n\
             ├─ s1     guest/pair          sequence              success  8ms\n\
             │  ├─ a1  guest/inc           nodejs:20             success  5ms\n\
             │  └─ b1  guest/tools/double  python:3              success  3ms\n\
             └─ c2     guest/pipeline      nodejs:20             success  3ms\n"
        );
    }

    #[test]
    fn missing_children_and_cycles_are_named_not_followed() {
        let root = record("s0", "guest/s", "sequence", 4, &["x", "s1"]);
        let records = by_id(&[record("s1", "guest/t", "sequence", 4, &["s0"])]);
        let entries = walk(&root, &records);
        assert_eq!(
            render(&entries),
            "s0        guest/s      sequence  success  4ms\n\
             ├─ x      (not found)\n\
             └─ s1     guest/t      sequence  success  4ms\n\
             \x20  └─ s0  (cycle)\n"
        );
        let found: Vec<&str> = entries
            .iter()
            .filter(|e| e.record.is_some())
            .map(|e| e.id)
            .collect();
        assert_eq!(found, ["s0", "s1"]);
    }

    #[test]
    fn a_plain_record_is_just_the_root_line() {
        let root = record(
            "a",
            "guest/a",
            "nodejs:20",
            7,
            &["2024-01-01T00:00:00Z stdout: x"],
        );
        assert_eq!(
            render(&walk(&root, &HashMap::new())),
            "a  guest/a  nodejs:20  success  7ms\n"
        );
    }

    #[tokio::test]
    async fn collect_looks_each_id_up_once_in_order_and_skips_the_missing() {
        let root = record("s0", "guest/s", "sequence", 4, &["a", "s1", "gone"]);
        let stored = by_id(&[
            record("a", "guest/a", "nodejs:20", 1, &["a"]),
            record("s1", "guest/t", "sequence", 2, &["a", "b"]),
            record("b", "guest/b", "nodejs:20", 1, &[]),
        ]);
        let asked = std::sync::Mutex::new(vec![]);
        let records = collect(&root, async |id: &str| {
            asked.lock().unwrap().push(id.to_string());
            Ok(stored.get(id).map(|r| r.json.clone()))
        })
        .await
        .unwrap();
        let mut keys: Vec<&String> = records.keys().collect();
        keys.sort();
        assert_eq!(keys, ["a", "b", "s1"]);
        assert_eq!(asked.into_inner().unwrap(), ["a", "s1", "b", "gone"]);
    }
}
