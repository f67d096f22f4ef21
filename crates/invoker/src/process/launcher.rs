//! The launchers Wisp ships for each kind, embedded in the binary and written to disk at start,
//! with the npm modules bundled for Node.js (`bundle.rs`), and how a stem cell of each kind is
//! started inside a sandbox (or on the host, with the sandbox off).

use std::path::{Path, PathBuf};

use wisp_core::Kind;

use wisp_sandbox::{Bind, Sandboxes};

use super::runtime_process::Spawn;
use crate::bundle;

const NODE_LAUNCHER: &str = include_str!("launchers/launcher.js");
const PYTHON_LAUNCHER: &str = include_str!("launchers/launcher.py");

/// Environment variables passed through from the server to functions that run on the host
/// (`--sandbox=off`). Everything else in the server's environment (its own secrets included)
/// stays out of runtime processes; sandboxed ones get none of the host's (the CA-bundle
/// variables would name host files they cannot see).
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Where the launchers and bundled modules appear inside a sandbox.
const INSIDE_LAUNCHERS: &str = "/wisp/launchers";
const INSIDE_MODULES: &str = "/wisp/node_modules";

/// An interpreter, resolved at start to the executable it really runs.
#[derive(Debug, Clone)]
struct Interpreter {
    program: PathBuf,
    /// Its installation outside `/usr` (a pyenv or nvm tree), bound into sandboxes.
    prefix: Option<PathBuf>,
}

/// Where the launchers live on disk and which interpreters run them.
#[derive(Debug, Clone)]
pub struct Launchers {
    node: Interpreter,
    python: Interpreter,
    dir: PathBuf,
    /// The bundled `node_modules`, Node's `NODE_PATH`.
    node_modules: PathBuf,
}

impl Launchers {
    /// Writes the embedded launchers to `<runtime_dir>/launchers` and the bundled npm modules
    /// under `<runtime_dir>/nodejs`, and finds the interpreters' real executables.
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
            node: resolve(
                &node,
                &["-e", "process.stdout.write(process.execPath + '\\n')"],
            ),
            python: resolve(
                &python,
                &[
                    "-c",
                    "import sys; print(sys.executable); print(sys.base_prefix)",
                ],
            ),
            dir,
            node_modules,
        })
    }

    /// What every sandbox binds read-only: the launchers, the bundled modules, and the
    /// interpreters' installations outside `/usr` at their own paths.
    pub fn binds(&self) -> Vec<Bind> {
        let mut binds = vec![self.launchers_bind(), self.modules_bind()];
        for prefix in [&self.node.prefix, &self.python.prefix]
            .into_iter()
            .flatten()
        {
            binds.push(Bind {
                host: prefix.clone(),
                inside: prefix.clone(),
            });
        }
        binds
    }

    fn launchers_bind(&self) -> Bind {
        Bind {
            host: self.dir.clone(),
            inside: INSIDE_LAUNCHERS.into(),
        }
    }

    fn modules_bind(&self) -> Bind {
        Bind {
            host: self.node_modules.clone(),
            inside: INSIDE_MODULES.into(),
        }
    }

    /// How to start a stem cell of `kind` in `sandboxes`; `None` for a kind that runs in no
    /// process (`wasm`). `work` is the working directory of processes on the host.
    pub fn spawn(
        &self,
        kind: Kind,
        sandboxes: &Sandboxes,
        api_host: &str,
        work: &Path,
    ) -> Option<Spawn> {
        let sandboxed = sandboxes.layers().namespaces;
        let launchers = sandboxes.visible(&self.launchers_bind());
        let (interpreter, script) = match kind {
            Kind::Nodejs20 => (&self.node, "launcher.js"),
            Kind::Python3 => (&self.python, "launcher.py"),
            Kind::Wasm => return None,
        };
        let mut env: Vec<(String, String)> = if sandboxed {
            let bin = interpreter
                .program
                .parent()
                .unwrap_or(Path::new("/usr/bin"));
            vec![
                (
                    "PATH".into(),
                    format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
                ),
                ("HOME".into(), "/tmp".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ]
        } else {
            PASSED_THROUGH
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect()
        };
        env.push(("__OW_API_HOST".into(), api_host.into()));
        match kind {
            Kind::Nodejs20 => {
                // Searched after the action's own node_modules, so its copies win.
                let modules = sandboxes.visible(&self.modules_bind());
                env.push(("NODE_PATH".into(), modules.display().to_string()));
            }
            Kind::Python3 => {
                // Logs written just before a timeout kill must not be lost in a buffer.
                env.push(("PYTHONUNBUFFERED".into(), "1".into()));
                env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
            }
            Kind::Wasm => {}
        }
        Some(Spawn {
            program: interpreter.program.clone(),
            args: vec![launchers.join(script).display().to_string()],
            env,
            cwd: if sandboxed {
                "/tmp".into()
            } else {
                work.to_path_buf()
            },
        })
    }
}

/// The interpreter `program` really runs (a pyenv shim is a script that runs another), asked
/// of the interpreter itself: its first output line is its executable, the second, if any, its
/// installation prefix. Falls back to finding `program` on `PATH`.
fn resolve(program: &Path, args: &[&str]) -> Interpreter {
    let output = super::runtime_process::output_of(program, args).unwrap_or_default();
    let mut lines = output.lines().map(str::trim).filter(|l| !l.is_empty());
    let executable = lines
        .next()
        .map(PathBuf::from)
        .and_then(|p| std::fs::canonicalize(p).ok())
        .or_else(|| find_on_path(program))
        .unwrap_or_else(|| program.to_path_buf());
    let prefix = lines
        .next()
        .map(PathBuf::from)
        .or_else(|| {
            // Node: the directory above its `bin`.
            executable
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        })
        .and_then(|p| std::fs::canonicalize(p).ok())
        .filter(|p| !p.starts_with("/usr") && p != Path::new("/"));
    Interpreter {
        program: executable,
        prefix,
    }
}

fn find_on_path(program: &Path) -> Option<PathBuf> {
    if program.is_absolute() {
        return Some(program.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Writes a launcher unless it is on disk exactly as embedded (a changed one is replaced),
/// read-only.
fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::fs::write(&tmp, contents)?;
    crate::bundle::read_only(&tmp)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_changed_launcher_is_put_back_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("launcher.js");
        write_if_changed(&path, NODE_LAUNCHER).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "backdoor()").unwrap();
        write_if_changed(&path, NODE_LAUNCHER).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), NODE_LAUNCHER);
    }
}
