//! The command line.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "dontpanic",
    version,
    about = "Handles production incidents like a calm on-call lead"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the controllers. Uses KUBECONFIG or the in-cluster config.
    Run(RunArgs),
    /// Print the CRDs as YAML, or write them into a directory.
    Crds {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Address of the HTTP server (/healthz, /readyz, /metrics, /webhooks/alertmanager).
    #[arg(long, env = "DONTPANIC_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Watch only this namespace.
    #[arg(long, env = "DONTPANIC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Prometheus base URL for triage signals and validation checks.
    #[arg(long, env = "DONTPANIC_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,
    /// Override the AWS endpoint (for tests against a local AWS API).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Cluster-wide limit on Incidents mitigating at once.
    #[arg(long, env = "DONTPANIC_MAX_CONCURRENT_MITIGATIONS", default_value_t = 5)]
    pub max_concurrent_mitigations: usize,
    /// Require this bearer token on `POST /webhooks/alertmanager`, read from a Secret as
    /// `namespace/name:key` (re-read every minute and when a request does not match).
    #[arg(long, env = "DONTPANIC_WEBHOOK_TOKEN_SECRET")]
    pub webhook_token_secret: Option<crate::webhook::token::TokenRef>,
    /// Log as JSON lines.
    #[arg(long, env = "DONTPANIC_LOG_JSON")]
    pub log_json: bool,
    /// Testing only: exit right after a step's intent is recorded, to prove restarts resume
    /// without repeating a mutation.
    #[arg(long, hide = true, env = "DONTPANIC_EXIT_AFTER_INTENT")]
    pub exit_after_intent: bool,
}
