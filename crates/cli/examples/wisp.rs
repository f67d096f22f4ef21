#[derive(clap::Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}
#[derive(clap::Subcommand)]
enum Command {
    /// Run the server
    Serve,
    #[command(flatten)]
    Client(wisp_cli::ClientCommand),
}
#[tokio::main]
async fn main() {
    let cli = <Cli as clap::Parser>::parse();
    match cli.command {
        Command::Serve => {}
        Command::Client(cmd) => std::process::exit(wisp_cli::run(cmd).await),
    }
}
