//! End-to-end tests against the testbed: `kubectl apply` → operator → `.status`.

mod alerts;
mod detection;
mod foundation;
mod harness;
mod lifecycle;
mod validation;
