//! What the suite shares: a backend to open stores on, and the macro that runs a test
//! against each backend.

use std::path::Path;
use std::sync::Arc;

use wisp_store::{ActivationStore, EntityStore, SqliteStore};

/// Runs each named test, an `async fn(&Fixture)`, against SQLite, and against PostgreSQL in
/// the full tier: `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let fixture = crate::support::Fixture::sqlite(stringify!($test));
                    super::$test(&fixture).await;
                }
            )*
        }

        #[cfg(feature = "full-tests")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let fixture = crate::support::Fixture::postgres().await;
                    super::$test(&fixture).await;
                }
            )*
        }
    };
}

/// The entity and activation stores of one opening.
pub struct Stores {
    pub entities: Arc<dyn EntityStore>,
    pub activations: Arc<dyn ActivationStore>,
}

/// Where a test's stores live, opened as often as the test likes.
pub enum Fixture {
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "full-tests")]
    Postgres(postgres::Database),
}

/// The controller `open` is, in PostgreSQL (the tests of two controllers are `postgres.rs`).
#[cfg(feature = "full-tests")]
pub const OWNER: &str = "test";

impl Fixture {
    /// A scratch directory, removed when dropped; `label` names it for whoever looks in /tmp.
    pub fn sqlite(label: &str) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix(&format!("wisp-store-{label}-"))
            .tempdir()
            .expect("a scratch directory");
        Fixture::Sqlite(dir)
    }

    /// A fresh database, dropped when this is.
    #[cfg(feature = "full-tests")]
    pub async fn postgres() -> Fixture {
        Fixture::Postgres(postgres::Database::create().await)
    }

    /// Opens the stores (again: a reopen is a restart); in PostgreSQL as controller [`OWNER`].
    pub async fn open(&self) -> Stores {
        match self {
            Fixture::Sqlite(dir) => open_sqlite(dir.path()),
            #[cfg(feature = "full-tests")]
            Fixture::Postgres(db) => db.open(OWNER).await,
        }
    }
}

fn open_sqlite(dir: &Path) -> Stores {
    let (entities, activations) = SqliteStore::open(dir).expect("the SQLite store opens");
    Stores {
        entities: Arc::new(entities),
        activations: Arc::new(activations),
    }
}

#[cfg(feature = "full-tests")]
pub mod postgres {
    //! A database per test on the machine's PostgreSQL.

    use std::str::FromStr;
    use std::sync::Arc;

    use sqlx::postgres::{PgConnectOptions, PgConnection};
    use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
    use wisp_store::PostgresStore;

    use super::Stores;

    /// These tests are of the full tier: without PostgreSQL they fail, saying this.
    pub const START: &str = "run scripts/test.sh, which starts it, or start it yourself: \
        pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

    /// The server, as `postgres://user@host:port` (no database): `WISP_TEST_POSTGRES`, else
    /// the machine's, as user `postgres` (trust authentication).
    pub fn server() -> String {
        std::env::var("WISP_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
    }

    /// A database of one test, `wisp_test_<random>`, dropped (connections and all) on drop.
    pub struct Database {
        pub name: String,
    }

    impl Database {
        pub async fn create() -> Database {
            let name = format!("wisp_test_{:016x}", rand::random::<u64>());
            let mut admin = admin().await;
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
            let _ = admin.close().await;
            Database { name }
        }

        pub fn url(&self) -> String {
            format!("{}/{}", server(), self.name)
        }

        pub async fn open(&self, owner: &str) -> Stores {
            let (entities, activations) = PostgresStore::connect(&self.url(), owner)
                .await
                .unwrap_or_else(|e| panic!("the PostgreSQL store opens on {}: {e}", self.url()));
            Stores {
                entities: Arc::new(entities),
                activations: Arc::new(activations),
            }
        }

        /// A plain connection to this database, to look at what the store wrote.
        pub async fn connection(&self) -> PgConnection {
            PgConnectOptions::from_str(&self.url())
                .expect("a valid URL")
                .connect()
                .await
                .expect("a connection")
        }
    }

    /// A connection to the server's `postgres` database, which is there to connect to.
    async fn admin() -> PgConnection {
        let url = format!("{}/postgres", server());
        let options = PgConnectOptions::from_str(&url).expect("a valid URL");
        options.connect().await.unwrap_or_else(|e| {
            panic!(
                "no PostgreSQL answers at {} (the full test tier needs one): {e}: {START}",
                server()
            )
        })
    }

    impl Drop for Database {
        fn drop(&mut self) {
            // Drop runs inside the test's runtime, which cannot be blocked on: a thread with
            // a runtime of its own drops the database.
            let name = self.name.clone();
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    let mut admin = admin().await;
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(_))) && !std::thread::panicking() {
                panic!("database {} was not dropped: {dropped:?}", self.name);
            }
        }
    }
}
