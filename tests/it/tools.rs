//! What these tests need from the machine beyond Rust, checked where first used. This binary is
//! the full test tier (`--features full-tests`): a missing tool fails the test with the step
//! that installs it, never skips it.

use std::path::Path;
use std::process::{Command, Stdio};

pub const NODE: &str = "install Node.js 20 with npm";
pub const PYTHON: &str = "install Python 3";
pub const REDIS: &str = "run scripts/test.sh, which installs Redis (Debian's redis-server)";
pub const CHROMIUM: &str = "run scripts/test.sh, which installs Debian's chromium";
pub const IPROUTE2: &str = "run scripts/test.sh, which installs iproute2";
pub const POSTGRES: &str = "run scripts/test.sh, which starts the machine's PostgreSQL (or start \
     it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)";

/// Fails unless `program` (a name looked up on `PATH`, or a path) is an executable file.
pub fn require(program: &str, install: &str) {
    let found = if program.contains('/') {
        executable(Path::new(program))
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(program))))
    };
    assert!(
        found,
        "`{program}` is not installed (the full test tier needs it): {install}"
    );
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The interpreters the server runs functions with, as `wisp serve` finds them. Checked at every
/// server start (a few `stat`s): a check made once would leave the tests after the first with
/// a poisoned `Once` instead of this message.
pub fn require_runtimes() {
    let node = std::env::var("WISP_NODE").unwrap_or_else(|_| "node".into());
    let python = std::env::var("WISP_PYTHON").unwrap_or_else(|_| "python3".into());
    require(&node, NODE);
    require(&python, PYTHON);
}

/// Fails unless the machine's Redis answers on 127.0.0.1:6379.
pub fn require_redis() {
    require("redis-cli", REDIS);
    let pong = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "PING"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "PONG");
    assert!(
        pong,
        "no Redis answers on 127.0.0.1:6379 (the full test tier needs one): run scripts/test.sh, \
         which starts one"
    );
}

/// `psql` connected to `database` of the machine's PostgreSQL on 127.0.0.1:5432, as
/// `postgres`.
pub fn psql(database: &str) -> Command {
    let mut psql = Command::new("psql");
    psql.args([
        "-h",
        "127.0.0.1",
        "-p",
        "5432",
        "-U",
        "postgres",
        "-d",
        database,
    ]);
    psql
}

/// Fails unless the machine's PostgreSQL answers on 127.0.0.1:5432 (as `postgres`, with trust
/// authentication), through `psql`.
pub fn require_postgres() {
    require("psql", POSTGRES);
    let answers = psql("postgres")
        .args(["-X", "-A", "-t", "-c", "SELECT 1"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "1");
    assert!(
        answers,
        "no PostgreSQL answers on 127.0.0.1:5432 as user postgres (the full test tier needs \
         one): {POSTGRES}"
    );
}

/// A fresh database, dropped (connections and all) when this is.
pub struct Database(String);

impl Database {
    pub fn create() -> Database {
        let name = format!("wisp_it_{:016x}", rand::random::<u64>());
        psql_query("postgres", &format!("CREATE DATABASE {name}"));
        Database(name)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.0)
    }

    /// One value a query answers in this database.
    pub fn query(&self, sql: &str) -> String {
        psql_query(&self.0, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql_query(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
        );
    }
}

/// Runs `sql` in `database` as `postgres`; its output, unaligned and without headers.
fn psql_query(database: &str, sql: &str) -> String {
    let out = psql(database)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}: {}", POSTGRES));
    assert!(
        out.status.success(),
        "psql `{sql}`: {}",
        crate::support::stderr(&out)
    );
    crate::support::stdout(&out).trim().to_string()
}
