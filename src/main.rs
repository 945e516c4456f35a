use clap::Parser;
use dontpanic::cli::{Cli, Command};
use dontpanic::controller::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds { out_dir } => dontpanic::crdgen::write(out_dir.as_deref()),
        Command::Run(args) => {
            dontpanic::telemetry::init(args.log_json);
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = kube::Client::try_default().await?;
            let settings = Settings {
                namespace: args.namespace,
                prometheus_url: args.prometheus_url,
                aws_endpoint_url: args.aws_endpoint_url,
                max_concurrent_mitigations: args.max_concurrent_mitigations.max(1),
                exit_after_intent: args.exit_after_intent,
                webhook_token_secret: args.webhook_token_secret,
            };
            if let Err(e) = dontpanic::run::run(client, settings, args.http_addr).await {
                eprintln!("dontpanic: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
