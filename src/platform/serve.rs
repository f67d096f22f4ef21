//! `wisp serve`: the API, the controller and the runtimes in one process, handing activations
//! over in memory, on the embedded defaults.

use clap::Args;

use super::build::{self, ControllerInputs, FunctionsApi};
use super::flags::{ApiFlags, CommonFlags, RuntimeFlags, StateFlags};
use super::setup;

/// The controller id `wisp serve` writes its running work under: one server per database.
const SERVE_ID: &str = "serve";

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    common: CommonFlags,
    #[command(flatten)]
    api: ApiFlags,
    #[command(flatten)]
    state: StateFlags,
    #[command(flatten)]
    runtime: RuntimeFlags,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let common = args.common.settings();
    let api_settings = args.api.settings();
    let state_settings = args.state.settings(&common.data_dir);
    let runtime_settings = args.runtime.settings();
    super::init_tracing(common.log_format);

    build::data_dir(&common)?;
    let metrics = build::metrics(&common.metrics);
    let state = build::open_state(&common, &state_settings, "wisp", &metrics).await?;
    let api = build::bind_api(&api_settings).await?;
    let sites = build::site_names(&api.host, &state_settings);
    let functions_api = FunctionsApi {
        host: &api.host,
        address: api.listener.local_addr()?,
    };
    let runtimes = build::runtimes(
        &common,
        &runtime_settings,
        &state,
        functions_api,
        &sites.url,
    )
    .await?;
    let site_url = sites.url.clone();
    let server = build::controller(
        &common,
        &api_settings,
        ControllerInputs {
            api,
            state,
            sites,
            invoker: runtimes.invoker.clone(),
            namespace_env: Some(runtimes.env.clone()),
            peers: None,
            metrics,
            id: SERVE_ID.to_owned(),
        },
    )
    .await?;

    let api_host = &server.api_host;
    // The properties file is in place before the address is announced, so whoever waits for
    // the announcement (a script, a test) finds it.
    setup::write_wskprops(api_host, &server.guest);
    println!("wisp: listening on {api_host}");
    println!("wisp: guest credentials {}", server.guest);
    println!("wisp: data directory {}", common.data_dir.display());
    if let wisp_store::Backend::Postgres(_) = api_settings.store {
        println!("wisp: entities and activations in {}", api_settings.store);
    }
    super::announce_runtimes(&runtime_settings, &runtimes);
    println!("wisp: sites at {site_url} and {api_host}/sites/{{namespace}}/");
    super::serve_api(server, &common).await
}
