//! dontpanic: a Kubernetes operator that handles production incidents like a calm on-call lead:
//! detect, triage, mitigate safely, validate, and write everything down.

pub mod api;
pub mod archive;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod crdgen;
pub mod detection;
pub mod duration;
pub mod evidence;
pub mod expr;
pub mod failpoint;
pub mod http;
pub mod kubeutil;
pub mod leader;
pub mod lifecycle;
pub mod metrics;
pub mod mitigation;
pub mod notify;
pub mod plugin;
pub mod report;
pub mod run;
pub mod telemetry;
pub mod timeline;
pub mod triage;
pub mod validation;
pub mod webhook;
