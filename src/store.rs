//! `--store` (`WISP_STORE`), the flag `wisp serve` and `wisp admin` share: which store,
//! parsed by `wisp_store::Backend` through [`crate::secret_flag::SecretParser`] (a PostgreSQL
//! URL may hold a password).

use wisp_store::Backend;

use crate::secret_flag::SecretParser;

/// The value parser of `--store`.
pub const STORE_PARSER: SecretParser<Backend> = SecretParser::new("--store (WISP_STORE)");

/// What failed when `store` (on SQLite, in `data_dir`) did not open, and what to check.
pub fn cannot_open(store: &Backend, data_dir: &std::path::Path) -> String {
    match store {
        Backend::Sqlite => format!("cannot open the store in {}", data_dir.display()),
        Backend::Postgres(_) => format!(
            "cannot open the store at {store}: check that PostgreSQL runs there and that the \
             database exists (createdb)"
        ),
    }
}
