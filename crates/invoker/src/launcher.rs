//! The launchers Wisp ships for each kind, embedded in the binary and written to disk at start,
//! with the npm modules bundled for Node.js (`bundle.rs`).

use std::path::{Path, PathBuf};

use wisp_core::Kind;

use crate::bundle;

const NODE_LAUNCHER: &str = include_str!("launchers/launcher.js");
const PYTHON_LAUNCHER: &str = include_str!("launchers/launcher.py");

/// Environment variables passed through from the server to functions. Everything else in the
/// server's environment (its own secrets included) stays out of runtime processes.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Where the launchers live on disk and which interpreters run them.
#[derive(Debug, Clone)]
pub struct Launchers {
    pub node: PathBuf,
    pub python: PathBuf,
    dir: PathBuf,
    /// The bundled `node_modules`, Node's `NODE_PATH`.
    node_modules: PathBuf,
}

impl Launchers {
    /// Writes the embedded launchers to `<runtime_dir>/launchers` and the bundled npm modules
    /// under `<runtime_dir>/nodejs`.
    pub fn install(
        runtime_dir: &Path,
        node: PathBuf,
        python: PathBuf,
    ) -> std::io::Result<Launchers> {
        let dir = runtime_dir.join("launchers");
        std::fs::create_dir_all(&dir)?;
        write_if_changed(&dir.join("launcher.js"), NODE_LAUNCHER)?;
        write_if_changed(&dir.join("launcher.py"), PYTHON_LAUNCHER)?;
        let bundle_dir = runtime_dir.join("nodejs");
        std::fs::create_dir_all(&bundle_dir)?;
        let node_modules = bundle::install(&bundle_dir)?;
        Ok(Launchers {
            node,
            python,
            dir,
            node_modules,
        })
    }

    /// The program and arguments that start a stem cell of `kind`; `None` for a kind that
    /// runs in no process (`wasm`).
    pub fn command(&self, kind: Kind) -> Option<(&Path, Vec<String>)> {
        match kind {
            Kind::Nodejs20 => Some((
                &self.node,
                vec![self.dir.join("launcher.js").display().to_string()],
            )),
            Kind::Python3 => Some((
                &self.python,
                vec![self.dir.join("launcher.py").display().to_string()],
            )),
            Kind::Wasm => None,
        }
    }

    /// The environment of a runtime process of `kind`.
    pub fn environment(&self, kind: Kind, api_host: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = PASSED_THROUGH
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        env.push(("__OW_API_HOST".into(), api_host.into()));
        match kind {
            Kind::Nodejs20 => {
                // Searched after the action's own node_modules, so its copies win.
                let modules = self.node_modules.display().to_string();
                env.push(("NODE_PATH".into(), modules));
            }
            Kind::Python3 => {
                // Logs written just before a timeout kill must not be lost in a buffer.
                env.push(("PYTHONUNBUFFERED".into(), "1".into()));
                env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
            }
            Kind::Wasm => {}
        }
        env
    }
}

fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(tmp, path)
}
