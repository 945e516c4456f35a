//! End-to-end tests against the testbed: `kubectl apply` → operator → `.status`.

mod alerts;
mod aws;
mod conflicts;
mod detection;
mod foundation;
mod harness;
mod lifecycle;
mod notifications;
mod observability;
mod report;
mod resilience;
mod validation;
