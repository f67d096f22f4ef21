//! Building actions on the developer's machine, in Nimbella's order: a directory's first build
//! trigger runs (`build.sh`, else `package.json` → npm), then its files are chosen (`.include`
//! or all but `.ignore`) and zipped, unless exactly one remains (then it is a plain file).
//!
//! This is the only place in the crate that starts processes: the project's own build steps,
//! which the developer wrote and runs by deploying.

use std::path::Path;
use std::process::Command;

use base64::Engine;

use crate::error::ProjectError;
use crate::files::{select, zip};
use crate::kinds::{agreed_kind, file_action};
use crate::model::{Action, Project, Source};

/// An action's code, ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub kind: String,
    /// Source text, or base64 when `binary`.
    pub code: String,
    pub binary: bool,
}

/// Runs `lib/`'s build step, which the actions' builds may rely on.
pub fn build_lib(project: &Project) -> Result<(), ProjectError> {
    if project.lib_build {
        run_trigger(&project.root.join("lib"), "lib")?;
    }
    Ok(())
}

/// Builds one action; `None` for a sequence, which has no code.
pub fn build_action(project: &Project, action: &Action) -> Result<Option<Built>, ProjectError> {
    let part = action.path();
    match &action.source {
        Source::Sequence { .. } => Ok(None),
        Source::File { path } => {
            let full = project.root.join(path);
            let bytes = std::fs::read(&full).map_err(|e| ProjectError::io(&full, e))?;
            let kind = action
                .kind
                .clone()
                .expect("file actions have a kind when read");
            Ok(Some(code(bytes, kind, action.binary, path)?))
        }
        Source::Directory { path } => {
            let dir = project.root.join(path);
            run_trigger(&dir, &path.display().to_string())?;
            let members = select(&dir, &path.display().to_string())?;
            match members.as_slice() {
                [] => Err(ProjectError::Layout(format!(
                    "{} holds no files to deploy",
                    path.display()
                ))),
                [only] => {
                    let bytes =
                        std::fs::read(&only.path).map_err(|e| ProjectError::io(&only.path, e))?;
                    let named = file_action(&only.name);
                    let kind = action
                        .kind
                        .clone()
                        .or(named.kind)
                        .ok_or_else(|| unknown_kind(&part, path))?;
                    Ok(Some(code(
                        bytes,
                        kind,
                        action.binary || named.binary,
                        path,
                    )?))
                }
                members => {
                    let kind = match action.kind.clone() {
                        Some(kind) => kind,
                        None => agreed_kind(members.iter().map(|m| m.name.as_str()))
                            .map_err(|kinds| {
                                ProjectError::Layout(format!(
                                    "the files of {} are of several kinds ({}); set `runtime` for \
                                     action {part} in project.yml",
                                    path.display(),
                                    kinds.join(", ")
                                ))
                            })?
                            .ok_or_else(|| unknown_kind(&part, path))?,
                    };
                    let bytes = zip(members)?;
                    Ok(Some(Built {
                        kind,
                        code: base64::engine::general_purpose::STANDARD.encode(bytes),
                        binary: true,
                    }))
                }
            }
        }
    }
}

fn code(bytes: Vec<u8>, kind: String, binary: bool, path: &Path) -> Result<Built, ProjectError> {
    if binary {
        return Ok(Built {
            kind,
            code: base64::engine::general_purpose::STANDARD.encode(bytes),
            binary: true,
        });
    }
    let code = String::from_utf8(bytes).map_err(|_| {
        ProjectError::Layout(format!(
            "{} is not UTF-8 text; zip binary code, or set `binary: true`",
            path.display()
        ))
    })?;
    Ok(Built {
        kind,
        code,
        binary: false,
    })
}

fn unknown_kind(part: &str, path: &Path) -> ProjectError {
    ProjectError::Layout(format!(
        "cannot tell the runtime kind of {} from its files; set `runtime` for action {part} in \
         project.yml",
        path.display()
    ))
}

/// Runs the directory's build trigger, if it has one; its output is shown only on failure.
fn run_trigger(dir: &Path, part: &str) -> Result<(), ProjectError> {
    if dir.join("build.sh").is_file() {
        let mut command = Command::new("sh");
        command.arg("build.sh");
        return run(command, dir, part, "build.sh");
    }
    if dir.join(".build").is_file() {
        return Err(ProjectError::Build {
            part: part.to_string(),
            reason: "`.build` redirects are not supported by wisp yet; use a build.sh".into(),
            output: String::new(),
        });
    }
    if dir.join("package.json").is_file() && !dir.join("node_modules").exists() {
        let has_build_script = std::fs::read_to_string(dir.join("package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|json| json["scripts"]["build"].is_string());
        let mut command = Command::new("sh");
        if has_build_script {
            command.args(["-c", "npm install --no-audit --no-fund && npm run build"]);
        } else {
            command.args(["-c", "npm install --production --no-audit --no-fund"]);
        }
        return run(command, dir, part, "npm install");
    }
    Ok(())
}

fn run(mut command: Command, dir: &Path, part: &str, step: &str) -> Result<(), ProjectError> {
    let output = command
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ProjectError::Build {
            part: part.to_string(),
            reason: format!("cannot run {step}: {e}"),
            output: String::new(),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let reason = match output.status.code() {
        Some(code) => format!("{step} exited with status {code}"),
        None => format!("{step} was killed by a signal"),
    };
    Err(ProjectError::Build {
        part: part.to_string(),
        reason,
        output: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn project(dir: &TempDir) -> Project {
        crate::read(dir.path(), &crate::Variables::default()).unwrap()
    }

    fn built(dir: &TempDir, name: &str) -> Result<Option<Built>, ProjectError> {
        let project = project(dir);
        let action = project
            .packages
            .iter()
            .flat_map(|p| &p.actions)
            .find(|a| a.name == name)
            .unwrap()
            .clone();
        build_action(&project, &action)
    }

    #[test]
    fn a_build_script_runs_before_the_files_are_chosen() {
        let dir = TempDir::new();
        dir.file(
            "packages/p/gen/build.sh",
            "mkdir -p out && echo 'exports.main = () => ({built: true})' > out/index.js",
        );
        dir.file("packages/p/gen/.include", "out/index.js\n");
        let code = built(&dir, "gen").unwrap().unwrap();
        assert_eq!(code.kind, "nodejs:default");
        assert!(!code.binary, "one file is deployed as text");
        assert!(code.code.contains("built: true"));
    }

    #[test]
    fn lib_is_built_before_the_actions_that_use_it() {
        let dir = TempDir::new();
        dir.file("lib/build.sh", "echo 'exports.x = 7;' > shared.js");
        dir.file("packages/p/uses/build.sh", "cp ../../../lib/shared.js .");
        dir.file(
            "packages/p/uses/index.js",
            "exports.main = () => require('./shared')",
        );
        let project = project(&dir);
        assert!(project.lib_build);
        build_lib(&project).unwrap();
        let code = built(&dir, "uses").unwrap().unwrap();
        assert!(code.binary, "index.js and the copied shared.js are zipped");
        assert!(dir.path().join("packages/p/uses/shared.js").is_file());
    }

    #[test]
    fn a_failing_build_reports_its_output() {
        let dir = TempDir::new();
        dir.file(
            "packages/p/bad/build.sh",
            "echo compiling; echo 'syntax error' >&2; exit 3",
        );
        dir.file("packages/p/bad/index.js", "x");
        let err = built(&dir, "bad").unwrap_err().to_string();
        assert!(
            err.starts_with("build of packages/p/bad failed: build.sh exited with status 3"),
            "{err}"
        );
        assert!(
            err.contains("compiling") && err.contains("syntax error"),
            "{err}"
        );
    }

    #[test]
    fn several_files_are_zipped_with_their_agreed_kind() {
        let dir = TempDir::new();
        dir.file("packages/p/multi/__main__.py", "def main(a): return a");
        dir.file("packages/p/multi/helper.py", "X = 1");
        dir.file("packages/p/multi/data.txt", "hi");
        let code = built(&dir, "multi").unwrap().unwrap();
        assert_eq!(code.kind, "python:default");
        assert!(code.binary);
        let again = built(&dir, "multi").unwrap().unwrap();
        assert_eq!(code, again, "the same files make the same zip");
    }
}
