//! Who hears about an Incident of a given severity: pure.

use super::outbox::Target;
use super::Receiver;
use crate::api::{NotifySpec, ReceiverOrigin, ReceiverSpec, ReceiverType, Severity};
use std::time::Duration;

/// How often the Minor digest goes out when the Playbook does not say.
pub const DEFAULT_DIGEST_INTERVAL: Duration = Duration::from_secs(600);

/// One receiver a notification goes to, now or in the digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub receiver: ReceiverSpec,
    pub digest: bool,
}

pub(super) fn pages(receiver: &ReceiverSpec) -> bool {
    receiver.type_ == ReceiverType::Pagerduty
}

/// Routes a severity to receivers. Without routes the runbook defaults apply: Critical and
/// Major go to every receiver at once ("all hands on deck"), Medium to the owning team's
/// (non-paging) receivers at once, Minor to the digest of the non-paging receivers.
/// Minor never pages, whatever the routes say.
pub fn route(spec: &NotifySpec, severity: Severity) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = if spec.routes.is_empty() {
        spec.receivers
            .iter()
            .filter(|r| matches!(severity, Severity::Critical | Severity::Major) || !pages(r))
            .map(|r| Delivery {
                receiver: r.clone(),
                digest: severity == Severity::Minor,
            })
            .collect()
    } else {
        spec.routes
            .iter()
            .filter(|route| route.severities.contains(&severity))
            .flat_map(|route| {
                route.receivers.iter().filter_map(move |name| {
                    spec.receivers.iter().find(|r| &r.name == name).map(|r| Delivery {
                        receiver: r.clone(),
                        digest: route.digest,
                    })
                })
            })
            .collect()
    };
    if severity == Severity::Minor {
        out.retain(|d| !pages(&d.receiver));
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|d| seen.insert((d.receiver.name.clone(), d.digest)));
    out
}

/// Who handles an Incident, as far as notifications go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Handling<'a> {
    /// A usable Playbook, with its notification settings when it has any.
    Playbook(Option<&'a NotifySpec>),
    /// Another open Incident on the same target handles it; that one notifies.
    Linked,
    /// No Playbook: none was found, or the one found is not usable. A human is needed.
    Nobody,
}

/// The receivers a notification about an Incident of `severity` goes to: the handling
/// Playbook's routes, or, when no Playbook handles it, the operator's default receiver at once.
/// Minor never pages, there either.
pub fn targets(handling: Handling<'_>, severity: Severity, default: Option<&Receiver>) -> Vec<Target> {
    match handling {
        Handling::Playbook(None) | Handling::Linked => Vec::new(),
        Handling::Playbook(Some(spec)) => route(spec, severity)
            .into_iter()
            .map(|d| Target {
                pages: pages(&d.receiver),
                receiver: d.receiver.name,
                from: ReceiverOrigin::Playbook,
                digest: d.digest,
            })
            .collect(),
        Handling::Nobody => default
            .filter(|r| !(severity == Severity::Minor && r.pages()))
            .map(|r| Target {
                receiver: r.name.clone(),
                from: ReceiverOrigin::OperatorDefault,
                digest: false,
                pages: r.pages(),
            })
            .into_iter()
            .collect(),
    }
}
