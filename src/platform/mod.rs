//! The server roles: `wisp serve` (the whole platform in one process on embedded defaults),
//! and, for a cluster, `wisp controller` (the API and everything behind it but the runtimes)
//! and `wisp invoker` (the runtimes and the endpoints their functions reach), which meet on
//! NATS. Each role's flags (`flags.rs`) resolve into its configuration (`config.rs`), `build.rs`
//! makes its parts, and the role's `run` serves them until a signal.

mod build;
mod config;
mod controller;
mod flags;
mod invoker;
mod serve;
mod setup;

use std::net::SocketAddr;
use std::time::Duration;

pub use controller::ControllerArgs;
pub use invoker::InvokerArgs;
pub use serve::ServeArgs;

use wisp_controller::Controller;
use wisp_invoker::{FunctionNetwork, SandboxMode};

use config::{LogFormat, RuntimeSettings};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    serve::run(args).await
}

pub async fn controller(args: ControllerArgs) -> anyhow::Result<()> {
    controller::run(args).await
}

pub async fn invoker(args: InvokerArgs) -> anyhow::Result<()> {
    invoker::run(args).await
}

/// Says what a host that runs functions runs them in, and where their endpoints are.
fn announce_runtimes(settings: &RuntimeSettings, runtimes: &build::Runtimes) {
    match settings.invoker.sandbox {
        SandboxMode::Off => println!(
            "wisp: WARNING: the function sandbox is off (--sandbox=off): functions run as this \
             server's user, with everything it can reach, the data directory included"
        ),
        _ => println!("wisp: function sandbox: {}", runtimes.layers),
    }
    if settings.invoker.network == FunctionNetwork::Host {
        println!(
            "wisp: WARNING: functions share the host's network (--function-network=host), \
             its loopback services included"
        );
    }
    if let Some(address) = runtimes.kv_address {
        println!("wisp: key-value store (RESP) on {address}");
    }
    if let Some(address) = runtimes.s3_address {
        println!("wisp: object storage (S3) on http://{address}");
    }
}

/// Serves the API (and `/metrics`, where asked) until a signal, then stops the controller
/// gracefully.
async fn serve_api(server: build::Server, common: &config::Common) -> anyhow::Result<()> {
    if let Some(listen) = common.metrics.listen {
        let metrics = serve_metrics(listen, &server.controller, common.read_timeout);
        if let Some(address) = metrics.await {
            println!("wisp: metrics on http://{address}/metrics");
        }
    }
    wisp_api::serve(
        server.listener,
        wisp_api::router(server.app),
        common.read_timeout,
        shutdown_signal(),
    )
    .await;
    println!("wisp: shutting down");
    server.controller.shutdown(common.shutdown_grace).await;
    Ok(())
}

/// Serves `/metrics` on `address` until the server ends; `None` (and a warning) if it cannot
/// listen there.
async fn serve_metrics(
    address: SocketAddr,
    controller: &Controller,
    read_timeout: Duration,
) -> Option<SocketAddr> {
    let app = wisp_api::metrics_router(controller.clone());
    serve_router(address, app, read_timeout).await
}

/// Serves `app` on `address` until the server ends; `None` (and a warning) if it cannot
/// listen there.
async fn serve_router(
    address: SocketAddr,
    app: wisp_api::Router,
    read_timeout: Duration,
) -> Option<SocketAddr> {
    let listener = match wisp_services::listen::bind(address).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(%address, error = %e, "no metrics endpoint: cannot listen");
            return None;
        }
    };
    let bound = listener.local_addr().ok()?;
    tokio::spawn(wisp_api::serve(
        listener,
        app,
        read_timeout,
        std::future::pending(),
    ));
    Some(bound)
}

/// The server's log on stderr: `WISP_LOG` (or `RUST_LOG`) filters it in tracing's syntax
/// (`info`, `wisp_controller=debug,warn`); `json` writes one object per line with the spans
/// it happened in (a request's transaction id, an activation's id and namespace).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WISP_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        // s3s logs every refused S3 request (a bad signature, an absent key) as an error: a
        // client's mistake, not the server's. Failures of storage itself are logged by Wisp.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,s3s=off"));
    // Colours only for a person at a terminal, never into a file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
