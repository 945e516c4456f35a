//! Receivers with the namespaces of their Secrets: a Playbook's (its own namespace) or the
//! operator's default one (Secrets named with their namespace).

use crate::api::{ReceiverSpec, ReceiverType};
use crate::webhook::token::TokenRef;

/// The name the operator's default receiver goes by in status and logs.
pub const DEFAULT_RECEIVER_NAME: &str = "default";

/// Where and how to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    pub name: String,
    pub type_: ReceiverType,
    /// The Secret key holding the URL; PagerDuty has a default.
    pub url: Option<TokenRef>,
    /// pagerduty: the Secret key holding the routing key.
    pub routing_key: Option<TokenRef>,
}

/// A default receiver the flags cannot make.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefaultReceiverError {
    #[error("--default-receiver-url-secret and --default-receiver-routing-key-secret need --default-receiver-type")]
    NoType,
    #[error("a {0:?} default receiver needs --default-receiver-url-secret")]
    NoUrl(ReceiverType),
    #[error("a pagerduty default receiver needs --default-receiver-routing-key-secret")]
    NoRoutingKey,
}

impl Receiver {
    /// A Playbook's receiver; its Secrets are in the Playbook's namespace.
    pub fn in_namespace(spec: &ReceiverSpec, namespace: &str) -> Receiver {
        let at = |r: &crate::api::SecretKeyRef| TokenRef {
            namespace: namespace.to_string(),
            name: r.name.clone(),
            key: r.key.clone(),
        };
        Receiver {
            name: spec.name.clone(),
            type_: spec.type_,
            url: spec.url.as_ref().map(at),
            routing_key: spec.routing_key.as_ref().map(at),
        }
    }

    /// The operator's default receiver from its flags; `None` when none is configured.
    /// Refused when it could never deliver, so that the mistake shows at start, not at the
    /// first Incident nobody handles.
    pub fn default_from_flags(
        type_: Option<ReceiverType>,
        url: Option<TokenRef>,
        routing_key: Option<TokenRef>,
    ) -> Result<Option<Receiver>, DefaultReceiverError> {
        let Some(type_) = type_ else {
            return match (url, routing_key) {
                (None, None) => Ok(None),
                _ => Err(DefaultReceiverError::NoType),
            };
        };
        match type_ {
            ReceiverType::Pagerduty if routing_key.is_none() => return Err(DefaultReceiverError::NoRoutingKey),
            ReceiverType::Webhook | ReceiverType::Slack if url.is_none() => {
                return Err(DefaultReceiverError::NoUrl(type_))
            }
            _ => {}
        }
        Ok(Some(Receiver {
            name: DEFAULT_RECEIVER_NAME.to_string(),
            type_,
            url,
            routing_key,
        }))
    }

    /// Whether it pages someone.
    pub fn pages(&self) -> bool {
        self.type_ == ReceiverType::Pagerduty
    }
}
