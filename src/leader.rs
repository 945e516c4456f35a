//! Leader election on a `coordination.k8s.io` Lease: only the leader mitigates, and a replica
//! that loses the lease exits rather than going on half-alive.

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};
use kube::Client;
use std::time::Duration;
use tokio::sync::watch;

/// Lease timings, as client-go's defaults scaled for a small operator.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
    pub retry_every: Duration,
}

/// What one look at the Lease decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The Lease is ours (taken or renewed) with this resourceVersion-checked write.
    Held,
    /// Someone else holds a live Lease.
    HeldBy(String),
}

fn now_micro() -> MicroTime {
    let now = Utc::now();
    MicroTime(k8s_openapi::jiff::Timestamp::from_microsecond(now.timestamp_micros()).unwrap_or_default())
}

/// Whether a Lease held by someone else has expired at `now`.
pub fn expired(spec: &LeaseSpec, now: chrono::DateTime<Utc>) -> bool {
    let Some(renewed) = spec.renew_time.as_ref() else {
        return true;
    };
    let renewed = crate::evidence::to_chrono(&renewed.0);
    let duration = chrono::Duration::seconds(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed + duration < now
}

/// Tries once to take or renew the Lease. Writes carry the resourceVersion read, so two
/// replicas can never both succeed.
pub async fn try_claim(api: &Api<Lease>, config: &LeaseConfig) -> Result<Claim, kube::Error> {
    let duration = config.lease_duration.as_secs() as i32;
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        let lease = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some(config.name.clone()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(now_micro()),
                renew_time: Some(now_micro()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Claim::Held),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Claim::HeldBy("another replica (creation race)".into())),
            Err(e) => Err(e),
        };
    };
    let mut spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == config.identity;
    if !mine && !holder.is_empty() && !expired(&spec, Utc::now()) {
        return Ok(Claim::HeldBy(holder));
    }
    if !mine {
        spec.acquire_time = Some(now_micro());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.holder_identity = Some(config.identity.clone());
    }
    spec.renew_time = Some(now_micro());
    spec.lease_duration_seconds = Some(duration);
    lease.spec = Some(spec);
    match api.replace(&config.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(Claim::Held),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Claim::HeldBy("another replica (update race)".into())),
        Err(e) => Err(e),
    }
}

/// Runs the election in the background. The returned receiver turns true once this replica
/// leads. When a leader cannot renew within the lease duration it exits the process.
pub fn spawn(client: Client, config: LeaseConfig) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    tokio::spawn(async move {
        let mut last_renewed: Option<std::time::Instant> = None;
        loop {
            let leading = *tx.borrow();
            match try_claim(&api, &config).await {
                Ok(Claim::Held) => {
                    if !leading {
                        tracing::info!(lease = %config.name, identity = %config.identity, "acquired leadership");
                        let _ = tx.send(true);
                    }
                    last_renewed = Some(std::time::Instant::now());
                }
                Ok(Claim::HeldBy(holder)) => {
                    if leading {
                        lost(&config, &format!("the lease is now held by {holder}"));
                    }
                    tracing::debug!(%holder, "standing by");
                }
                Err(e) => tracing::warn!(error = %e, "leader election: lease not reachable"),
            }
            if leading {
                if let Some(at) = last_renewed {
                    if at.elapsed() >= config.lease_duration {
                        lost(&config, "could not renew the lease within its duration");
                    }
                }
            }
            let wait = if *tx.borrow() {
                config.renew_every
            } else {
                config.retry_every
            };
            tokio::time::sleep(wait).await;
        }
    });
    rx
}

fn lost(config: &LeaseConfig, why: &str) -> ! {
    tracing::error!(lease = %config.name, identity = %config.identity, why, "lost leadership; exiting");
    std::process::exit(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        let renewed = Utc::now() - chrono::Duration::seconds(renewed_secs_ago);
        LeaseSpec {
            renew_time: Some(MicroTime(
                k8s_openapi::jiff::Timestamp::from_second(renewed.timestamp()).unwrap(),
            )),
            lease_duration_seconds: Some(duration),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_expires_after_its_duration() {
        assert!(!expired(&spec(5, 15), Utc::now()));
        assert!(expired(&spec(20, 15), Utc::now()));
        assert!(expired(&LeaseSpec::default(), Utc::now()));
    }
}
