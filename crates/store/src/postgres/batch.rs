//! What one group commit of activation writes does to each table, as a pure fold.
//!
//! The writer task takes every queued write at once; applied one statement each they would
//! cost a round trip per write. Every write is an upsert or a delete of one row by id, so the
//! batch folds into its net effect per row (the last write to a row wins), and that is written
//! with one multi-row statement per table and kind (`unnest` of arrays) — the same rows, in the
//! same final state, as applying the writes in order.

use std::collections::HashMap;

/// A finished record's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub id: String,
    pub namespace: String,
    /// `[pkg/]name` of the action.
    pub name: String,
    pub start: i64,
    pub doc: String,
}

/// One write, as the writer task receives it (documents already serialized).
#[derive(Debug)]
pub(super) enum Op {
    /// An accepted activation's pending marker.
    Accept { id: String, doc: String },
    /// A composition's progress.
    Session { id: String, doc: String },
    /// A finished record; its marker and session go.
    Complete(Record),
    /// Nothing: answered once every write queued before it is committed.
    Flush,
}

/// The net effect of a batch.
#[derive(Debug, Default)]
pub(super) struct Net {
    /// Records to upsert, in the order of their last write (a later write is a newer row, as a
    /// replaced row in SQLite gets a new rowid).
    pub records: Ordered<Record>,
    /// Markers to upsert (`Some(doc)`) or delete (`None`).
    pub pending: HashMap<String, Option<String>>,
    /// Sessions to upsert or delete.
    pub sessions: HashMap<String, Option<String>>,
}

impl Net {
    /// Folds `ops`, in order.
    pub fn of<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Net {
        let mut net = Net::default();
        for op in ops {
            match op {
                Op::Accept { id, doc } => {
                    net.pending.insert(id.clone(), Some(doc.clone()));
                }
                Op::Session { id, doc } => {
                    net.sessions.insert(id.clone(), Some(doc.clone()));
                }
                Op::Complete(record) => {
                    net.pending.insert(record.id.clone(), None);
                    net.sessions.insert(record.id.clone(), None);
                    net.records.push(record.id.clone(), record.clone());
                }
                Op::Flush => {}
            }
        }
        net
    }
}

impl Net {
    /// The batch as the arrays its statements bind.
    pub fn into_columns(self) -> Columns {
        let mut records = RecordColumns::default();
        for record in self.records.into_values() {
            records.ids.push(record.id);
            records.namespaces.push(record.namespace);
            records.names.push(record.name);
            records.starts.push(record.start);
            records.docs.push(record.doc);
        }
        Columns {
            records,
            pending: split(self.pending),
            sessions: split(self.sessions),
        }
    }
}

/// What one commit writes, column by column.
#[derive(Debug, Default)]
pub(super) struct Columns {
    pub records: RecordColumns,
    pub pending: Split,
    pub sessions: Split,
}

/// Records to upsert, in order, one array per column.
#[derive(Debug, Default)]
pub(super) struct RecordColumns {
    pub ids: Vec<String>,
    pub namespaces: Vec<String>,
    pub names: Vec<String>,
    pub starts: Vec<i64>,
    pub docs: Vec<String>,
}

/// Upserts and deletes of one table as the arrays its statements bind.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    pub upsert_ids: Vec<String>,
    pub upsert_docs: Vec<String>,
    pub delete_ids: Vec<String>,
}

/// `rows` (id → upsert or delete) as arrays, sorted by id so that concurrent writers lock
/// rows in one order.
pub(super) fn split(rows: HashMap<String, Option<String>>) -> Split {
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut split = Split::default();
    for (id, doc) in rows {
        match doc {
            Some(doc) => {
                split.upsert_ids.push(id);
                split.upsert_docs.push(doc);
            }
            None => split.delete_ids.push(id),
        }
    }
    split
}

/// Values by key, each key once, in the order of its last push.
#[derive(Debug)]
pub(super) struct Ordered<T> {
    slots: Vec<Option<T>>,
    index: HashMap<String, usize>,
}

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered {
            slots: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> Ordered<T> {
    pub fn push(&mut self, key: String, value: T) {
        if let Some(old) = self.index.insert(key, self.slots.len()) {
            self.slots[old] = None;
        }
        self.slots.push(Some(value));
    }

    pub fn into_values(self) -> impl Iterator<Item = T> {
        self.slots.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, start: i64) -> Record {
        Record {
            id: id.into(),
            namespace: "ns".into(),
            name: "f".into(),
            start,
            doc: format!("{{\"start\":{start}}}"),
        }
    }

    fn accept(id: &str) -> Op {
        Op::Accept {
            id: id.into(),
            doc: format!("pending {id}"),
        }
    }

    fn session(id: &str, step: u32) -> Op {
        Op::Session {
            id: id.into(),
            doc: format!("step {step}"),
        }
    }

    #[test]
    fn a_completion_removes_the_marker_and_session_written_before_it_in_the_batch() {
        let net = Net::of(&[
            accept("a"),
            session("a", 1),
            accept("b"),
            Op::Complete(record("a", 1)),
            Op::Flush,
        ]);
        let pending = split(net.pending);
        assert_eq!(pending.upsert_ids, ["b"]);
        assert_eq!(pending.upsert_docs, ["pending b"]);
        assert_eq!(pending.delete_ids, ["a"]);
        assert_eq!(split(net.sessions).delete_ids, ["a"]);
        assert_eq!(
            net.records.into_values().collect::<Vec<_>>(),
            [record("a", 1)]
        );
    }

    #[test]
    fn the_last_save_of_a_session_wins() {
        let net = Net::of(&[session("s", 1), session("s", 2), session("t", 1)]);
        let sessions = split(net.sessions);
        assert_eq!(sessions.upsert_ids, ["s", "t"]);
        assert_eq!(sessions.upsert_docs, ["step 2", "step 1"]);
        assert!(sessions.delete_ids.is_empty());
    }

    #[test]
    fn a_record_written_twice_is_written_once_in_the_place_of_its_last_write() {
        let net = Net::of(&[
            Op::Complete(record("a", 1)),
            Op::Complete(record("b", 2)),
            Op::Complete(record("a", 3)),
        ]);
        let ids: Vec<_> = net.records.into_values().map(|r| (r.id, r.start)).collect();
        assert_eq!(ids, [("b".to_string(), 2), ("a".to_string(), 3)]);
    }

    #[test]
    fn a_marker_accepted_after_its_completion_stays() {
        let net = Net::of(&[Op::Complete(record("a", 1)), accept("a")]);
        assert_eq!(split(net.pending).upsert_ids, ["a"]);
        assert_eq!(net.records.into_values().count(), 1);
    }
}
