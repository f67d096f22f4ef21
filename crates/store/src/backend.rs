//! Choosing the store by URL, as an operator names it (`--store`, `WISP_STORE`): `sqlite`,
//! the files under the data directory, or `postgres://…`, a database controllers can share.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;

use crate::{ActivationStore, EntityStore, PostgresStore, Result, SqliteStore};

/// Where entities and activation records live.
#[derive(Clone)]
pub enum Backend {
    /// `entities.db` and `activations.db` in a directory of this machine.
    Sqlite,
    /// A PostgreSQL database (the URL as given; it may hold a password, so it is never
    /// shown: see the `Display` impl).
    Postgres(String),
}

/// Both stores of one backend, as the controller takes them.
pub struct Stores {
    pub entities: Arc<dyn EntityStore>,
    pub activations: Arc<dyn ActivationStore>,
}

impl Backend {
    /// Opens (creating and migrating as needed) both stores: SQLite's files in `sqlite_dir`;
    /// in PostgreSQL, pending work under `owner` (see [`PostgresStore::connect`]).
    pub async fn open(&self, sqlite_dir: &Path, owner: &str) -> Result<Stores> {
        Ok(match self {
            Backend::Sqlite => {
                let (entities, activations) = SqliteStore::open(sqlite_dir)?;
                Stores {
                    entities: Arc::new(entities),
                    activations: Arc::new(activations),
                }
            }
            Backend::Postgres(url) => {
                let (entities, activations) = PostgresStore::connect(url, owner).await?;
                Stores {
                    entities: Arc::new(entities),
                    activations: Arc::new(activations),
                }
            }
        })
    }
}

impl FromStr for Backend {
    /// What the flag's parser shows.
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s == "sqlite" {
            return Ok(Backend::Sqlite);
        }
        let Some((scheme, _)) = s.split_once("://") else {
            return Err(format!(
                "`{s}` is not a store: use `sqlite` or a postgres:// URL"
            ));
        };
        if scheme != "postgres" && scheme != "postgresql" {
            // Only the scheme: the rest may hold a password.
            return Err(format!(
                "`{scheme}://` is not a store this server knows: use `sqlite` or a postgres:// URL"
            ));
        }
        // Checked now, so a mistyped URL stops the command before it does anything. sqlx's
        // message names the part that is wrong, never the URL itself.
        PgConnectOptions::from_str(s).map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
        Ok(Backend::Postgres(s.to_string()))
    }
}

/// `sqlite`, or the URL without its password (and query), for messages and logs.
impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Sqlite => f.write_str("sqlite"),
            Backend::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
                // The authority ends at the first `/`; its user information at its last `@`.
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let host = match authority.rsplit_once('@') {
                    Some((user, host)) => {
                        let user = user.split_once(':').map_or(user, |(name, _)| name);
                        format!("{user}@{host}")
                    }
                    None => authority.to_string(),
                };
                write!(f, "{scheme}://{host}")?;
                if !path.is_empty() {
                    write!(f, "/{path}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Backend;

    fn parse(s: &str) -> Result<Backend, String> {
        s.parse()
    }

    #[test]
    fn sqlite_and_postgres_urls_are_stores() {
        assert!(matches!(parse("sqlite"), Ok(Backend::Sqlite)));
        for url in [
            "postgres://127.0.0.1:5432/wisp",
            "postgresql://wisp@db.internal/wisp?sslmode=disable",
            "postgres:///wisp",
        ] {
            assert!(matches!(parse(url), Ok(Backend::Postgres(_))), "{url}");
        }
    }

    #[test]
    fn anything_else_is_refused_without_showing_more_than_its_scheme() {
        let error = parse("mysql://root:hunter2@db/wisp").unwrap_err();
        assert!(error.contains("`mysql://`"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(parse("sqlite3").unwrap_err().contains("`sqlite3`"));
        assert!(parse("").is_err());
        let error = parse("postgres://h:notaport/db").unwrap_err();
        assert!(error.starts_with("invalid PostgreSQL URL"), "{error}");
    }

    #[test]
    fn a_url_is_shown_without_its_password() {
        let shown = |s: &str| parse(s).unwrap().to_string();
        assert_eq!(
            shown("postgres://wisp:hunter2@db:5432/wisp?sslmode=require&password=x"),
            "postgres://wisp@db:5432/wisp"
        );
        assert_eq!(
            shown("postgres://127.0.0.1/wisp"),
            "postgres://127.0.0.1/wisp"
        );
        assert_eq!(shown("postgresql://a:b:c@h"), "postgresql://a@h");
        assert_eq!(shown("sqlite"), "sqlite");
    }
}
