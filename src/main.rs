//! `wisp`: the server (`serve`, or its cluster roles `controller` and `invoker`), its local
//! administration (`admin`) and the client commands.
//!
//! This binary is the composition root: it reads configuration and wires the crates together;
//! it holds no platform logic of its own (the state services it starts are `wisp-services`).

mod admin;
mod paths;
mod platform;
mod secret_flag;
mod store;

use clap::{Parser, Subcommand};

/// Wisp: a self-hosted serverless functions platform, compatible with Apache OpenWhisk.
#[derive(Parser)]
#[command(name = "wisp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform on this machine (API, controller and invoker in one process).
    Serve(Box<platform::ServeArgs>),
    /// Run a cluster's controller: the API and everything behind it but the runtimes, which
    /// it reaches through NATS.
    Controller(Box<platform::ControllerArgs>),
    /// Run a cluster's invoker: the runtimes, taking activations from NATS.
    Invoker(Box<platform::InvokerArgs>),
    /// Manage namespaces, keys and namespace limits directly on a data directory.
    Admin(admin::AdminArgs),
    #[command(flatten)]
    Client(wisp_cli::ClientCommand),
}

fn main() {
    // A sandbox runs this binary again as its init, before anything else happens.
    wisp_sandbox::init::run_if_requested();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => report(platform::serve(*args).await),
            Command::Controller(args) => report(platform::controller(*args).await),
            Command::Invoker(args) => report(platform::invoker(*args).await),
            Command::Admin(args) => report(admin::run(args).await),
            Command::Client(command) => wisp_cli::run(command).await,
        }
    });
    // Background tasks (runtime process pumps) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
