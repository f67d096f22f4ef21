//! What a run found: rows for the printed table and the same values keyed for the JSON file.

use std::path::Path;

use serde_json::{Map, Value};

#[derive(Default)]
pub struct Report {
    rows: Vec<(String, String)>,
    results: Map<String, Value>,
}

impl Report {
    /// One measurement: `value` goes into the JSON under `key`, `shown` into the table.
    pub fn record(&mut self, key: &str, label: &str, value: Value, shown: String) {
        self.results.insert(key.to_string(), value);
        self.rows.push((label.to_string(), shown));
    }

    /// A fact about the run that belongs in the JSON only.
    pub fn note(&mut self, key: &str, value: Value) {
        self.results.insert(key.to_string(), value);
    }

    /// The JSON value recorded under `key` earlier in the run (a floor a later row compares
    /// itself with).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.results.get(key)
    }

    pub fn print_table(&self) {
        let width = self
            .rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n{:<width$}  result", "measurement");
        println!("{}  {}", "-".repeat(width), "-".repeat(50));
        for (label, value) in &self.rows {
            println!("{label:<width$}  {value}");
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_string_pretty(&Value::Object(self.results.clone()))?,
        )?;
        Ok(())
    }
}
