//! Where command output goes: lines and tables for people on stdout, notes on stderr.
//!
//! Commands write through a `Printer` rather than `println!` so tests can capture the output and
//! so a closed pipe (`wisp activation list | head`) ends the command instead of panicking.

use std::fmt::Display;
use std::io::Write;

use anyhow::Context;
use serde_json::Value;

pub struct Printer {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl Printer {
    pub fn stdio() -> Self {
        Self {
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
        }
    }

    /// One line of output on stdout.
    pub fn line(&mut self, text: impl Display) -> anyhow::Result<()> {
        writeln!(self.out, "{text}")
            .and_then(|()| self.out.flush())
            .context("cannot write output")
    }

    /// A remark for the person at the terminal (progress, hints) on stderr, out of the way of
    /// anything a script reads from stdout.
    pub fn note(&mut self, text: impl Display) -> anyhow::Result<()> {
        writeln!(self.err, "{text}")
            .and_then(|()| self.err.flush())
            .context("cannot write to stderr")
    }

    /// Pretty-printed JSON on stdout.
    pub fn json(&mut self, value: &Value) -> anyhow::Result<()> {
        self.line(pretty(value))
    }

    /// Raw bytes on stdout (an object's contents).
    pub fn bytes(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .context("cannot write output")
    }

    /// Text that already ends lines itself (a rendered table).
    pub fn text(&mut self, text: &str) -> anyhow::Result<()> {
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush())
            .context("cannot write output")
    }
}

pub fn pretty(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its keys are strings.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A header line over left-aligned columns two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    columns(&[&[header], rows].concat())
}

/// Left-aligned columns two spaces apart; the last column of each row is not padded, and a row
/// may have fewer cells than others.
pub fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = vec![];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths.get(i).copied().unwrap_or(0);
                line.extend(std::iter::repeat_n(
                    ' ',
                    pad.saturating_sub(cell.chars().count()),
                ));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Aligned `label  value` lines, each starting with `indent`.
pub fn pairs(indent: &str, items: &[(&str, String)]) -> String {
    let width = items
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (label, value) in items {
        let pad = width - label.chars().count();
        let line = format!("{indent}{label}{}  {value}", " ".repeat(pad));
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// An answer of the server, typed. Missing fields default, and a document of another shape
/// reads as empty, so other servers' answers read as far as they agree.
pub fn document<T: serde::de::DeserializeOwned + Default>(answer: &Value) -> T {
    T::deserialize(answer).unwrap_or_default()
}

/// The documents of a list answer, typed; an entry of another shape reads as empty.
pub fn documents<T: serde::de::DeserializeOwned + Default>(list: &Value) -> Vec<T> {
    list.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(document)
        .collect()
}

/// The text, or `-` when it is empty (a field the server left out).
pub fn or_dash(text: &str) -> String {
    match text {
        "" => "-".to_string(),
        text => text.to_string(),
    }
}

/// A JSON string as itself and anything else as compact JSON; `-` when absent.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub mod capture {
    //! A `Printer` whose output can be read back: for tests, and for `project watch`, which
    //! runs a deploy with `--json` output and prints its own summary of it.

    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::Printer;

    #[derive(Clone, Default)]
    pub struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A printer and the stdout and stderr it writes to.
    pub fn printer() -> (Printer, Buffer, Buffer) {
        let (out, err) = (Buffer::default(), Buffer::default());
        let printer = Printer {
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
        };
        (printer, out, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_does_not_pad_the_last() {
        let rows = vec![
            vec!["/guest/hello".into(), "nodejs:20".into(), "0.0.1".into()],
            vec!["/guest/pkg/é".into(), "python:3.11".into(), "0.0.12".into()],
        ];
        assert_eq!(
            table(&["Name", "Kind", "Version"], &rows),
            "Name          Kind         Version\n\
             /guest/hello  nodejs:20    0.0.1\n\
             /guest/pkg/é  python:3.11  0.0.12\n"
        );
    }

    #[test]
    fn empty_table_is_just_the_header() {
        assert_eq!(table(&["A", "B"], &[]), "A  B\n");
    }

    #[test]
    fn empty_last_cells_leave_no_trailing_space() {
        let rows = vec![vec!["x".into(), "".into()]];
        assert_eq!(table(&["Long", "B"], &rows), "Long  B\nx\n");
    }

    #[test]
    fn pairs_align_labels() {
        let items = [
            ("kind", "nodejs:20".to_string()),
            ("parameters", "a, b".to_string()),
        ];
        assert_eq!(
            pairs("  ", &items),
            "  kind        nodejs:20\n  parameters  a, b\n"
        );
    }

    #[test]
    fn cells_show_strings_bare() {
        assert_eq!(cell(Some(&serde_json::json!("x"))), "x");
        assert_eq!(cell(Some(&serde_json::json!(3))), "3");
        assert_eq!(cell(None), "-");
    }

    #[test]
    fn printer_writes_lines_json_and_notes() {
        let (mut p, out, err) = capture::printer();
        p.line("ok: done").unwrap();
        p.json(&serde_json::json!({"a": 1})).unwrap();
        p.note("hint").unwrap();
        assert_eq!(out.text(), "ok: done\n{\n  \"a\": 1\n}\n");
        assert_eq!(err.text(), "hint\n");
    }
}
