//! `--store` (`WISP_STORE`), the flag `wisp serve` and `wisp admin` share: which store,
//! parsed by `wisp_store::Backend`, with errors that never repeat the value (a PostgreSQL URL
//! may hold a password, and clap's own message would print it whole; its help hides the
//! variable's value for the same reason).

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use wisp_store::Backend;

/// The value parser of `--store`.
#[derive(Clone, Copy)]
pub struct StoreParser;

impl TypedValueParser for StoreParser {
    type Value = Backend;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Backend, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid value for --store (WISP_STORE): {message}\n"),
            )
            .with_cmd(cmd)
        };
        value
            .to_str()
            .ok_or_else(|| refuse("not UTF-8".into()))?
            .parse()
            .map_err(refuse)
    }
}

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
