//! `kubectl dontpanic`: the kubectl plugin. Same commands as `dontpanic report|timeline|list|approve`.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = dontpanic::cli::PluginCli::parse();
    std::process::exit(dontpanic::plugin::run(cli.command).await);
}
