//! Triage: read the target's health signals and classify the Incident.

mod impact;
mod observe;
mod release;
mod rules;
mod signals;
mod workload;

pub use impact::impact;
pub use observe::{observe_workload, WorkloadObservation};
pub use release::{last_spec_writer, release_change};
pub use rules::{alert_floor, classify, default_verdict, Verdict};
pub use signals::Signals;
pub use workload::workload_signals;

#[cfg(test)]
pub(crate) mod tests;
