//! Input no tenant should be able to turn into a crash or a stall: out-of-range durations are
//! refused by the API server with the bound in the message, before the operator sees them.

use crate::harness::*;
use dontpanic::api::Playbook;
use std::time::Duration;

fn playbook_with_cooldown(name: &str, cooldown: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: {name}}}\nspec:\n  mitigations:\n    - severities: [Critical]\n      steps: [{{action: RestartDeployment}}]\n  safety: {{cooldown: {cooldown}}}\n"
    )
}

#[tokio::test]
async fn an_out_of_range_cooldown_is_rejected_with_the_bound() {
    let ns = TestNamespace::new("dp-hostile").await;
    let _op = Operator::start(&ns.name, &[]);
    // First the operator proves it is running and reads this namespace: the longest allowed
    // cooldown is accepted and the Playbook becomes Ready.
    let (ok, _, err) = kubectl(
        &["apply", "-n", &ns.name, "-f", "-"],
        Some(&playbook_with_cooldown("longest", "720h")),
    );
    assert!(ok, "{err}");
    let api = ns.api::<Playbook>();
    let ready = eventually(
        "Ready on the Playbook with a 720h cooldown",
        Duration::from_secs(30),
        || {
            let api = api.clone();
            async move {
                let pb = api.get("longest").await.map_err(|e| e.to_string())?;
                pb.status
                    .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
                    .ok_or_else(|| "no Ready condition yet".to_string())
            }
        },
    )
    .await;
    assert_eq!(ready.status, "True", "{}", ready.message);

    for cooldown in ["9999999999999h", "721h"] {
        let (ok, _, err) = kubectl(
            &["apply", "-n", &ns.name, "-f", "-"],
            Some(&playbook_with_cooldown("hostile", cooldown)),
        );
        assert!(!ok, "a cooldown of {cooldown} was accepted");
        assert!(err.contains("spec.safety.cooldown"), "{err}");
        assert!(err.contains("at most 720h (30 days)"), "{err}");
        assert!(
            api.get_opt("hostile").await.unwrap().is_none(),
            "a Playbook with a cooldown of {cooldown} exists"
        );
    }
}
