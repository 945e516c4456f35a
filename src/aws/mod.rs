//! AWS: the shared SDK clients (built on first use), error classification, identifiers, and
//! observation of EC2 instances and RDS DB instances for triage.

pub mod ec2;
pub mod error;
pub mod names;
pub mod rds;

use crate::triage::Signals;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use std::collections::BTreeMap;
use tokio::sync::OnceCell;

/// The SDK clients every AWS action and observation uses.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
}

/// AWS access for the controller: nothing is loaded until an AWS target or action needs it.
#[derive(Debug, Default)]
pub struct Aws {
    endpoint_url: Option<String>,
    clients: OnceCell<AwsClients>,
}

impl Aws {
    pub fn new(endpoint_url: Option<String>) -> Aws {
        Aws {
            endpoint_url,
            clients: OnceCell::new(),
        }
    }

    /// The clients, built on the first call: credentials from the default provider chain
    /// (environment, web identity/IRSA, profile, container or instance metadata), the region
    /// from the same chain, and the endpoint overridden when configured.
    pub async fn clients(&self) -> &AwsClients {
        self.clients
            .get_or_init(|| build_clients(self.endpoint_url.clone()))
            .await
    }
}

async fn build_clients(endpoint_url: Option<String>) -> AwsClients {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(url) = endpoint_url.filter(|u| !u.is_empty()) {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    tracing::info!(region = ?config.region(), "AWS clients ready");
    AwsClients {
        ec2: aws_sdk_ec2::Client::new(&config),
        rds: aws_sdk_rds::Client::new(&config),
    }
}

/// What triage learns about a cloud target.
#[derive(Debug, Clone, Default)]
pub struct CloudObservation {
    pub signals: Signals,
    /// One evidence line: IDs, type, zone, state.
    pub note: String,
    /// Tags, for Playbook selection by `matchLabels`.
    pub labels: BTreeMap<String, String>,
}

impl CloudObservation {
    /// The target could not be read for a reason a person must look at.
    pub fn not_found(reason: String) -> CloudObservation {
        CloudObservation {
            signals: Signals {
                target_found: false,
                server_state: Some(reason.clone()),
                ..Signals::default()
            },
            note: reason,
            labels: BTreeMap::new(),
        }
    }
}
