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
    Run(Box<RunArgs>),
    /// Print the CRDs as YAML, or write them into a directory.
    Crds {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    #[command(flatten)]
    Plugin(PluginCommand),
}

/// `kubectl dontpanic`: the same incident commands as a kubectl plugin.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-dontpanic",
    bin_name = "kubectl dontpanic",
    version,
    about = "Read and act on dontpanic Incidents: post-mortem reports, timelines, approvals"
)]
pub struct PluginCli {
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The commands people run about Incidents. Uses KUBECONFIG; the namespace defaults to the
/// kubeconfig context's namespace, else `default`.
#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Write a post-mortem draft of an Incident.
    Report {
        /// The Incident's name.
        incident: String,
        #[arg(short, long)]
        namespace: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
        format: ReportFormat,
    },
    /// Print an Incident's whole timeline (archived and current), in UTC.
    Timeline {
        /// The Incident's name.
        incident: String,
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// List open Incidents, most severe first.
    List {
        /// List across all namespaces (the default unless -n is given).
        #[arg(short = 'A', long, conflicts_with = "namespace")]
        all_namespaces: bool,
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Approve the step an Incident is waiting on, as you: sets dontpanic.dev/approved to that
    /// step's token and dontpanic.dev/approved-by to your user name.
    Approve {
        /// The Incident's name.
        incident: String,
        #[arg(short, long)]
        namespace: Option<String>,
    },
}

/// How `report` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Json,
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
    /// Incidents reconciled at once. Bounds the operator's memory and its load on the API server
    /// when many Incidents open together; the others wait their turn in the queue.
    #[arg(long, env = "DONTPANIC_INCIDENT_WORKERS", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub incident_workers: u16,
    /// Elect a leader on a Lease; only the leader mitigates. Turn on when running replicas.
    #[arg(long, env = "DONTPANIC_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Namespace of the leader-election Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "dontpanic-system")]
    pub leader_election_namespace: String,
    /// Seconds a leader's Lease lasts without renewal before a standby takes over.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Time from resolution until the post-incident review is due, e.g. 48h.
    #[arg(long, env = "DONTPANIC_REVIEW_PERIOD", default_value = "48h", value_parser = crate::duration::parse_duration)]
    pub review_period: std::time::Duration,
    /// Require this bearer token on `POST /webhooks/alertmanager`, read from a Secret as
    /// `namespace/name:key` (re-read every minute and when a request does not match).
    #[arg(long, env = "DONTPANIC_WEBHOOK_TOKEN_SECRET")]
    pub webhook_token_secret: Option<crate::webhook::token::TokenRef>,
    /// The operator's default notification receiver, for Incidents no Playbook handles (none
    /// found, or the one found is not usable): webhook, slack or pagerduty.
    #[arg(long, env = "DONTPANIC_DEFAULT_RECEIVER_TYPE", value_parser = parse_receiver_type)]
    pub default_receiver_type: Option<crate::api::ReceiverType>,
    /// The default receiver's URL, read from a Secret as `namespace/name:key`. Required for
    /// webhook and slack; for pagerduty it overrides the Events API endpoint.
    #[arg(long, env = "DONTPANIC_DEFAULT_RECEIVER_URL_SECRET")]
    pub default_receiver_url_secret: Option<crate::webhook::token::TokenRef>,
    /// The default pagerduty receiver's routing key, read from a Secret as `namespace/name:key`.
    #[arg(long, env = "DONTPANIC_DEFAULT_RECEIVER_ROUTING_KEY_SECRET")]
    pub default_receiver_routing_key_secret: Option<crate::webhook::token::TokenRef>,
    /// Log as JSON lines.
    #[arg(long, env = "DONTPANIC_LOG_JSON")]
    pub log_json: bool,
    #[cfg(feature = "failpoints")]
    #[command(flatten)]
    pub failpoints: FailpointArgs,
}

/// Crash points for crash-safety tests (only in builds with the `failpoints` feature).
#[cfg(feature = "failpoints")]
#[derive(Debug, Clone, clap::Args)]
pub struct FailpointArgs {
    /// Die by SIGKILL right after a step's intent is recorded, to prove restarts resume
    /// without repeating a mutation.
    #[arg(long, hide = true, env = "DONTPANIC_EXIT_AFTER_INTENT")]
    pub exit_after_intent: bool,
    /// Die by SIGKILL right after a revert's intent is recorded.
    #[arg(long, hide = true)]
    pub exit_after_revert_intent: bool,
    /// Die by SIGKILL right after an Incident enters this phase (Triaging, Validating, ...).
    #[arg(long, hide = true, value_parser = parse_phase)]
    pub exit_at_phase: Option<crate::api::Phase>,
}

#[cfg(feature = "failpoints")]
impl FailpointArgs {
    pub fn armed(&self) -> crate::failpoint::Failpoints {
        use crate::failpoint::Point;
        let mut points = Vec::new();
        if self.exit_after_intent {
            points.push(Point::AfterIntent);
        }
        if self.exit_after_revert_intent {
            points.push(Point::AfterRevertIntent);
        }
        points.extend(self.exit_at_phase.map(Point::EnteredPhase));
        crate::failpoint::Failpoints::armed(points)
    }
}

#[cfg(feature = "failpoints")]
fn parse_phase(text: &str) -> Result<crate::api::Phase, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| format!("unknown phase {text:?}"))
}

fn parse_receiver_type(text: &str) -> Result<crate::api::ReceiverType, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("unknown receiver type {text:?}; expected webhook, slack or pagerduty"))
}
