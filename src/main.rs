use clap::Parser;
use dontpanic::cli::{Cli, Command};
use dontpanic::controller::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds { out_dir } => dontpanic::crdgen::write(out_dir.as_deref()),
        Command::Plugin(command) => std::process::exit(dontpanic::plugin::run(command).await),
        Command::Run(args) => {
            let _telemetry = dontpanic::telemetry::init(args.log_json);
            let _ = rustls::crypto::ring::default_provider().install_default();
            let metrics = std::sync::Arc::new(dontpanic::metrics::Metrics::default());
            let client = dontpanic::run::client(metrics.clone()).await?;
            let leader = args.leader_election.then(|| {
                let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
                    format!(
                        "{}-{}",
                        std::env::var("HOSTNAME").unwrap_or_else(|_| "dontpanic".into()),
                        std::process::id()
                    )
                });
                let name = match &args.namespace {
                    Some(ns) => format!("dontpanic-leader-{ns}"),
                    None => "dontpanic-leader".to_string(),
                };
                let duration = std::time::Duration::from_secs(args.lease_duration_seconds.max(3));
                dontpanic::leader::LeaseConfig {
                    namespace: args.leader_election_namespace.clone(),
                    name,
                    identity,
                    lease_duration: duration,
                    renew_every: duration / 3,
                    retry_every: duration / 5,
                }
            });
            let default_receiver = dontpanic::notify::Receiver::default_from_flags(
                args.default_receiver_type,
                args.default_receiver_url_secret,
                args.default_receiver_routing_key_secret,
            )
            .unwrap_or_else(|e| {
                eprintln!("dontpanic: {e}");
                std::process::exit(2);
            });
            let settings = Settings {
                namespace: args.namespace,
                prometheus_url: args.prometheus_url,
                aws_endpoint_url: args.aws_endpoint_url,
                max_concurrent_mitigations: args.max_concurrent_mitigations.max(1),
                incident_workers: args.incident_workers,
                #[cfg(feature = "failpoints")]
                failpoints: args.failpoints.armed(),
                #[cfg(not(feature = "failpoints"))]
                failpoints: Default::default(),
                review_period: args.review_period,
                webhook_token_secret: args.webhook_token_secret,
                default_receiver,
            };
            if let Err(e) = dontpanic::run::run(client, metrics, settings, leader, args.http_addr).await {
                eprintln!("dontpanic: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
