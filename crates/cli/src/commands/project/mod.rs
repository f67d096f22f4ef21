//! `wisp project create|deploy|watch|get-metadata`: a whole application in Nimbella's project
//! layout.
//! Reading and building are `wisp-project`'s; this module talks to the server.

mod create;
mod deploy;
mod plan;
mod watch;
mod web;

use std::path::{Path, PathBuf};

use wisp_project::{default_env_file, parse_env_file, Project, Variables};

use crate::config::{ClientOpts, Config};
use crate::error::usage;
use crate::output::Printer;

#[derive(clap::Args, Debug)]
pub struct ProjectArgs {
    #[command(flatten)]
    pub opts: ClientOpts,

    #[command(subcommand)]
    pub command: ProjectCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ProjectCommand {
    /// Write a new project that deploys as it is: an action, project.yml and a web page
    Create {
        /// The directory to create (its name is the project's)
        name: PathBuf,
    },
    /// Build the project and deploy what changed: prints the plan, then applies it
    Deploy {
        /// The project directory
        dir: PathBuf,
        /// Read ${VAR} values from this file instead of the project's .env
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
        /// Also delete the actions, packages and web files this project deployed before and no
        /// longer has
        #[arg(long)]
        prune: bool,
    },
    /// Deploy the project, then again on every save (only what changed), until Ctrl-C
    Watch {
        /// The project directory
        dir: PathBuf,
        /// Read ${VAR} values from this file instead of the project's .env
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
    /// Print the project as read (after ${VAR} substitution and merging project.yml) as JSON
    GetMetadata {
        /// The project directory
        dir: PathBuf,
        /// Read ${VAR} values from this file instead of the project's .env
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
}

impl ProjectCommand {
    /// Whether the command talks to a server (and so needs the client settings).
    pub fn needs_server(&self) -> bool {
        matches!(
            self,
            ProjectCommand::Deploy { .. } | ProjectCommand::Watch { .. }
        )
    }
}

pub async fn run(
    command: ProjectCommand,
    config: Option<&Config>,
    printer: &mut Printer,
) -> anyhow::Result<()> {
    match command {
        ProjectCommand::Create { name } => create::run(&name, printer),
        ProjectCommand::Deploy { dir, env, prune } => {
            let config = config.expect("deploy is given the client settings");
            deploy::run(&dir, env.as_deref(), prune, config, printer).await
        }
        ProjectCommand::Watch { dir, env } => {
            let config = config.expect("watch is given the client settings");
            watch::run(&dir, env.as_deref(), config, printer).await
        }
        ProjectCommand::GetMetadata { dir, env } => {
            let project = read_project(&dir, env.as_deref())?;
            printer.json(&serde_json::to_value(&project)?)
        }
    }
}

/// Reads the project at `dir` with `${VAR}` values from the environment and the env file.
fn read_project(dir: &Path, env_file: Option<&Path>) -> anyhow::Result<Project> {
    let file = match env_file
        .map(Path::to_path_buf)
        .or_else(|| default_env_file(dir))
    {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| usage(format!("cannot read env file {}: {e}", path.display())))?;
            parse_env_file(&text)
        }
        None => Default::default(),
    };
    Ok(wisp_project::read(dir, &Variables::from_env(file))?)
}
