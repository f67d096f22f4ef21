//! The schema, as sqlx migrations: the files of `crates/store/migrations/postgres`, embedded
//! in the binary and applied by sqlx's `Migrator` when a store connects.
//!
//! The migrator records each version with its checksum in `_sqlx_migrations` (changing an
//! applied file is an error: add a new one instead) and holds an advisory lock while it runs,
//! so controllers starting together migrate one at a time. The files are listed here rather
//! than embedded by `sqlx::migrate!()`, whose proc macros would build sqlx twice; a test
//! checks that this list and the folder agree.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// `(version, description, SQL)`, in order; the file is `<version>_<description>.sql`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "entities",
        include_str!("../../migrations/postgres/0001_entities.sql"),
    ),
    (
        2,
        "activations",
        include_str!("../../migrations/postgres/0002_activations.sql"),
    ),
];

/// The migrator of every file above, each applied in a transaction of its own.
pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// A file added to the folder but not to the list would never run.
    #[test]
    fn every_file_of_the_folder_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("the migrations folder")
            .map(|entry| entry.expect("an entry").file_name().into_string().unwrap())
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(version, description, _)| format!("{version:04}_{description}.sql"))
            .collect();
        assert_eq!(files, listed);
        for (index, (version, _, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1, "versions count up from 1");
            assert!(
                !sql.starts_with("-- no-transaction"),
                "a file that must run outside a transaction needs `no_tx` set here"
            );
        }
    }
}
