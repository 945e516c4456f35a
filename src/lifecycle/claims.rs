//! One mitigation per target and at most N at once, exactly: every Incident that is about to
//! act claims its target and a slot in one table, under one lock, before it plans. The table
//! is filled from what the Incidents' statuses say (so a restarted operator knows who holds
//! what) and from the claims made since (which the watch cache may not show yet).

use super::decide::OtherIncident;
use super::effects::ClaimResult;
use super::set_phase;
use crate::api::{set_condition, IncidentStatus, Phase, TargetKind};
use crate::timeline::{last_says, record};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What identifies a target across Incidents. Cloud targets are keyed by instance ID or DB
/// identifier alone: one instance named from two namespaces is one target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetKey {
    pub kind: TargetKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl TargetKey {
    pub fn new(kind: TargetKind, namespace: &str, name: &str) -> TargetKey {
        let cloud = matches!(kind, TargetKind::EC2Instance | TargetKind::RDSInstance);
        TargetKey {
            kind,
            namespace: (!cloud).then(|| namespace.to_string()),
            name: name.to_string(),
        }
    }

    fn of(other: &OtherIncident) -> TargetKey {
        TargetKey::new(other.target_kind, &other.namespace, &other.target_name)
    }
}

/// Who asks for a claim.
#[derive(Debug, Clone)]
pub struct Claimant<'a> {
    pub uid: &'a str,
    pub name: &'a str,
    pub key: TargetKey,
}

#[derive(Debug, Clone)]
struct Claim {
    key: TargetKey,
    name: String,
    at: DateTime<Utc>,
}

/// Claims made by this process, by Incident UID.
#[derive(Debug, Default)]
pub struct ClaimTable {
    claims: HashMap<String, Claim>,
}

/// How long a claim by an Incident the cache does not show is kept: far longer than the
/// watch lags, short enough that a deleted Incident does not hold its target for long.
const UNSEEN_CLAIM_TTL: chrono::Duration = chrono::Duration::seconds(120);

impl ClaimTable {
    /// Claims the target and a slot for `me`, given every other Incident as the cache shows it.
    pub fn claim(&mut self, me: &Claimant, others: &[OtherIncident], limit: usize, now: DateTime<Utc>) -> ClaimResult {
        self.claims
            .retain(|uid, claim| match others.iter().find(|o| &o.uid == uid) {
                Some(other) => !other.phase.is_some_and(Phase::is_closed),
                None => uid == me.uid || now - claim.at < UNSEEN_CLAIM_TTL,
            });
        let others: Vec<&OtherIncident> = others.iter().filter(|o| o.uid != me.uid).collect();
        let holder = self
            .claims
            .iter()
            .filter(|(uid, claim)| uid.as_str() != me.uid && claim.key == me.key)
            .map(|(_, claim)| claim.name.clone())
            .chain(
                others
                    .iter()
                    .filter(|o| o.mitigating && TargetKey::of(o) == me.key)
                    .map(|o| o.name.clone()),
            )
            .min();
        if let Some(name) = holder {
            return ClaimResult::HeldBy(name);
        }
        if !self.claims.contains_key(me.uid) {
            let mut busy: std::collections::HashSet<&str> = self
                .claims
                .keys()
                .map(String::as_str)
                .filter(|uid| *uid != me.uid)
                .collect();
            busy.extend(others.iter().filter(|o| o.mitigating).map(|o| o.uid.as_str()));
            if busy.len() >= limit {
                return ClaimResult::AtLimit {
                    busy: busy.len(),
                    limit,
                };
            }
        }
        self.claims.insert(
            me.uid.to_string(),
            Claim {
                key: me.key.clone(),
                name: me.name.to_string(),
                at: now,
            },
        );
        ClaimResult::Granted
    }

    /// Gives up `uid`'s claim: its Incident closed.
    pub fn release(&mut self, uid: &str) {
        self.claims.remove(uid);
    }

    /// How many claims are held, for metrics and tests.
    pub fn len(&self) -> usize {
        self.claims.len()
    }

    pub fn is_empty(&self) -> bool {
        self.claims.is_empty()
    }
}

/// Records a refused claim: follow the Incident that holds the target, or wait for a slot.
pub fn refused(st: &mut IncidentStatus, result: &ClaimResult, generation: Option<i64>, now: DateTime<Utc>) {
    match result {
        ClaimResult::Granted => {}
        ClaimResult::HeldBy(holder) => {
            let message =
                format!("incident {holder} is already acting on this target; this one follows it and does not act");
            st.linked_to = Some(holder.clone());
            if let Some(step) = st
                .steps
                .iter_mut()
                .find(|s| s.state == crate::api::StepState::Running && s.intent.is_none())
            {
                step.state = crate::api::StepState::Pending;
            }
            record(st, now, crate::api::EntryType::Linked, message.clone());
            set_condition(
                &mut st.conditions,
                "Mitigated",
                false,
                "LinkedToIncident",
                &message,
                generation,
                now,
            );
            // Following another Incident is what triage does with a link.
            set_phase(st, Phase::Triaging, now, &format!("following incident {holder}"));
        }
        ClaimResult::AtLimit { busy, limit } => {
            let message = format!(
                "{busy} incidents are mitigating already, the cluster-wide limit is {limit}; waiting for one to finish"
            );
            if !last_says(st, crate::api::EntryType::Waiting, &message) {
                record(st, now, crate::api::EntryType::Waiting, message.clone());
            }
            set_condition(
                &mut st.conditions,
                "Mitigated",
                false,
                "ConcurrencyLimit",
                &message,
                generation,
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(uid: &str, name: &str, target: &str, mitigating: bool) -> OtherIncident {
        OtherIncident {
            uid: uid.into(),
            namespace: "shop".into(),
            name: name.into(),
            target_kind: TargetKind::Deployment,
            target_name: target.into(),
            phase: Some(if mitigating { Phase::Mitigating } else { Phase::Triaging }),
            created: DateTime::<Utc>::default(),
            last_mutation_at: None,
            mitigating,
        }
    }

    fn me<'a>(uid: &'a str, target: &str) -> Claimant<'a> {
        Claimant {
            uid,
            name: uid,
            key: TargetKey::new(TargetKind::Deployment, "shop", target),
        }
    }

    #[test]
    fn two_incidents_on_one_target_get_one_claim_whatever_the_cache_shows() {
        let mut table = ClaimTable::default();
        let now = Utc::now();
        // Neither sees the other in the cache: created in the same second, both triaging.
        assert_eq!(table.claim(&me("a", "web"), &[], 5, now), ClaimResult::Granted);
        assert_eq!(
            table.claim(&me("b", "web"), &[], 5, now),
            ClaimResult::HeldBy("a".into())
        );
        // Claiming again is idempotent.
        assert_eq!(table.claim(&me("a", "web"), &[], 5, now), ClaimResult::Granted);
    }

    #[test]
    fn an_incident_that_acted_holds_its_target_after_a_restart() {
        let mut table = ClaimTable::default();
        let others = [other("a", "older-but-acting", "web", true)];
        assert_eq!(
            table.claim(&me("b", "web"), &others, 5, Utc::now()),
            ClaimResult::HeldBy("older-but-acting".into())
        );
    }

    #[test]
    fn the_limit_is_exact_across_racing_claims() {
        let mut table = ClaimTable::default();
        let now = Utc::now();
        assert_eq!(table.claim(&me("a", "web"), &[], 1, now), ClaimResult::Granted);
        assert_eq!(
            table.claim(&me("b", "api"), &[], 1, now),
            ClaimResult::AtLimit { busy: 1, limit: 1 }
        );
        table.release("a");
        assert_eq!(table.claim(&me("b", "api"), &[], 1, now), ClaimResult::Granted);
    }

    #[test]
    fn closed_incidents_release_their_claims_and_unseen_ones_expire() {
        let mut table = ClaimTable::default();
        let now = Utc::now();
        table.claim(&me("a", "web"), &[], 1, now);
        let mut closed = other("a", "a", "web", false);
        closed.phase = Some(Phase::Resolved);
        assert_eq!(table.claim(&me("b", "web"), &[closed], 1, now), ClaimResult::Granted);
        let later = now + UNSEEN_CLAIM_TTL + chrono::Duration::seconds(1);
        assert_eq!(table.claim(&me("c", "api"), &[], 5, later), ClaimResult::Granted);
        assert_eq!(table.len(), 1, "b was never seen in the cache and expired");
    }

    #[test]
    fn cloud_targets_are_one_target_across_namespaces() {
        assert_eq!(
            TargetKey::new(TargetKind::EC2Instance, "team-a", "i-123"),
            TargetKey::new(TargetKind::EC2Instance, "team-b", "i-123")
        );
        assert_ne!(
            TargetKey::new(TargetKind::Deployment, "team-a", "web"),
            TargetKey::new(TargetKind::Deployment, "team-b", "web")
        );
    }
}
