//! Rollout health detection: watches the Deployments a Playbook's `detection.rolloutHealth`
//! selects and opens an Incident when the newest ReplicaSet's pods fail.
//!
//! [`health`] is the pure decision (Deployment + ReplicaSets + pods + now → verdict);
//! [`controller`] is the event-driven end that reads the world and creates Incidents.

pub mod controller;
mod health;
mod healthy;
mod open;

pub use crate::api::DetectedAgain;
pub use health::{health, Health};
pub use healthy::healthy_record_due;
pub use open::{decide_open, incident_name, open_incident_for, OpenOutcome};

#[cfg(test)]
mod tests;
