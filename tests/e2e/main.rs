//! End-to-end tests against the testbed: `kubectl apply` → operator → `.status`.

mod alerts;
mod approval;
mod aws;
mod conflicts;
mod detection;
mod foundation;
mod harness;
mod hostile_input;
mod lifecycle;
mod never_worse;
mod notifications;
mod observability;
mod report;
mod resilience;
mod rollback_safety;
mod validation;
