//! Report → Markdown, in the shape of a post-mortem document.

use super::*;
use std::fmt::Write;

/// A UTC time as people read it in a post-mortem.
pub fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn opt_time(time: Option<DateTime<Utc>>) -> String {
    time.map(utc).unwrap_or_else(|| "—".into())
}

fn opt_span(span: &Option<Span>) -> String {
    span.as_ref().map(|s| s.text.clone()).unwrap_or_else(|| "—".into())
}

/// Keeps table cells on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn side(revision: Option<i64>, images: &[String], build: &Option<String>) -> String {
    let mut parts = Vec::new();
    if let Some(r) = revision {
        parts.push(format!("revision {r}"));
    }
    if !images.is_empty() {
        parts.push(format!("image {}", images.join(", ")));
    }
    if let Some(b) = build {
        parts.push(format!("build {b}"));
    }
    if parts.is_empty() {
        "unknown".into()
    } else {
        parts.join(", ")
    }
}

/// Renders the report as a Markdown post-mortem draft.
pub fn to_markdown(r: &Report) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "# Post-mortem draft: {}\n", r.summary);
    let _ = writeln!(
        o,
        "Incident `{}/{}` on `{}`. All times are UTC. This draft was written from the operator's record; it says what happened, not who did it.\n",
        r.namespace, r.name, r.target
    );

    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "- What: {}", r.summary);
    let _ = writeln!(o, "- Target: {}", r.target);
    let _ = writeln!(o, "- Opened by: {}", r.source);
    let _ = writeln!(o, "- Outcome: {}", r.phase.as_deref().unwrap_or("unknown"));
    if let Some(pb) = &r.playbook {
        let _ = writeln!(o, "- Playbook: {pb}");
    }
    if let Some(responder) = &r.responder {
        let _ = writeln!(o, "- Responder (on-call role): {responder}");
    }
    if let Some(due) = r.postmortem_due_by {
        let _ = writeln!(o, "- Review due by: {}", utc(due));
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Severity and phases\n");
    let _ = writeln!(o, "- Severity: {}", r.severity.as_deref().unwrap_or("not triaged"));
    if let Some(reason) = &r.severity_reason {
        let _ = writeln!(o, "- Why: {reason}");
    }
    let _ = writeln!(o, "- Time to detect: {}", opt_span(&r.durations.time_to_detect));
    let _ = writeln!(o, "- Time to mitigate: {}", opt_span(&r.durations.time_to_mitigate));
    let _ = writeln!(o, "- Time to resolve: {}\n", opt_span(&r.durations.time_to_resolve));
    let _ = writeln!(o, "| Moment | Time (UTC) |\n|---|---|");
    let key = [
        ("Failure first observable", r.times.started_at),
        ("Detected", r.times.detected_at),
        ("Triaged", r.times.triaged_at),
        ("First mitigation", r.times.first_mitigation_at),
        ("Mitigated", r.times.mitigated_at),
        ("Closed", r.times.closed_at),
    ];
    for (what, time) in key {
        let _ = writeln!(o, "| {what} | {} |", opt_time(time));
    }
    let _ = writeln!(o);
    if !r.phases.is_empty() {
        let _ = writeln!(o, "| Phase | Entered (UTC) | Duration |\n|---|---|---|");
        for p in &r.phases {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                p.phase,
                utc(p.entered_at),
                p.duration
                    .as_ref()
                    .map(|d| d.text.clone())
                    .unwrap_or_else(|| "—".into())
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Impact\n");
    match &r.impact {
        Some(impact) => {
            let _ = writeln!(o, "- {}", impact.summary);
            if !impact.signals_off.is_empty() {
                let _ = writeln!(o, "- Signals off: {}", impact.signals_off.join(", "));
            }
        }
        None => {
            let _ = writeln!(o, "- Not measured.");
        }
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## First error\n");
    match &r.first_error {
        Some(first) => {
            let _ = writeln!(
                o,
                "- {}{}",
                utc(first.time),
                first.source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(o, "- Not observed by the operator.");
        }
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Affected servers\n");
    let a = &r.affected;
    if a.pods.is_empty() && a.nodes.is_empty() && a.instances.is_empty() && a.databases.is_empty() {
        let _ = writeln!(o, "- None recorded.");
    }
    if !a.pods.is_empty() {
        let _ = writeln!(o, "| Pod | Node | Reason | Restarts | Images |\n|---|---|---|---|---|");
        for p in &a.pods {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                p.name,
                p.node.as_deref().unwrap_or("—"),
                p.reason,
                p.restarts,
                p.images.join(", ")
            );
        }
        let _ = writeln!(o);
    }
    if !a.nodes.is_empty() {
        let _ = writeln!(o, "- Nodes: {}", a.nodes.join(", "));
    }
    if !a.instances.is_empty() {
        let _ = writeln!(o, "- EC2 instances: {}", a.instances.join(", "));
    }
    if !a.databases.is_empty() {
        let _ = writeln!(o, "- Databases: {}", a.databases.join(", "));
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Mitigation\n");
    if r.steps.is_empty() {
        let _ = writeln!(o, "- No mitigation step ran.");
    }
    for step in &r.steps {
        let mut flags = Vec::new();
        if step.dry_run {
            flags.push("dry-run, nothing changed");
        }
        if step.reverted {
            flags.push("reverted");
        }
        let _ = writeln!(
            o,
            "- {} ({}): {} after {} attempt(s){}{}",
            step.name,
            step.action,
            step.state,
            step.attempts,
            if flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", flags.join(", "))
            },
            step.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
        );
        if !step.details.is_empty() {
            let _ = writeln!(o, "  - Details: {}", cell(&step.details.join(", ")));
        }
    }
    let _ = writeln!(o);
    for rb in &r.rollbacks {
        let _ = writeln!(
            o,
            "### Rolled back{}: step {}\n",
            if rb.dry_run { " (dry-run only)" } else { "" },
            rb.step
        );
        let _ = writeln!(o, "- From: {}", side(rb.from_revision, &rb.from_images, &rb.from_build));
        let _ = writeln!(o, "- To: {}", side(rb.to_revision, &rb.to_images, &rb.to_build));
        if rb.reverted {
            let _ = writeln!(o, "- The rollback was undone after validation failed.");
        }
        let _ = writeln!(o);
    }
    if !r.restored_databases.is_empty() {
        let _ = writeln!(o, "- Restored databases: {}", r.restored_databases.join(", "));
    }
    if !r.relaunched_instances.is_empty() {
        let _ = writeln!(o, "- Relaunched instances: {}", r.relaunched_instances.join(", "));
    }
    if !r.restored_databases.is_empty() || !r.relaunched_instances.is_empty() {
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Validation\n");
    match &r.validation {
        Some(v) => {
            let _ = writeln!(o, "- Verdict: {} (started {})\n", v.verdict, utc(v.started_at));
            let _ = writeln!(
                o,
                "| Check | Verdict | Measurements | Successful | Failed | Inconclusive | Errors | Last value |\n|---|---|---|---|---|---|---|---|"
            );
            for c in &v.checks {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    c.name,
                    c.verdict,
                    c.measurements,
                    c.successful,
                    c.failed,
                    c.inconclusive,
                    c.errors,
                    c.last_value.as_deref().map(cell).unwrap_or_else(|| "—".into())
                );
            }
        }
        None => {
            let _ = writeln!(o, "- Recovery was not validated.");
        }
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Timeline (UTC)\n");
    if r.timeline_missing > 0 {
        let _ = writeln!(
            o,
            "_{} older entr(ies) could not be read from the timeline archive (ConfigMap {}-timeline)._\n",
            r.timeline_missing, r.name
        );
    }
    let _ = writeln!(o, "| Time (UTC) | Event | What happened |\n|---|---|---|");
    for e in &r.timeline {
        let _ = writeln!(o, "| {} | {} | {} |", utc(e.time), e.type_, cell(&e.message));
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Root cause (to be completed)\n");
    let _ = writeln!(
        o,
        "_What made the system fail? Describe the conditions, not the people. Ask \"why\" until the answer is a process or a system._\n"
    );
    let _ = writeln!(o, "## What went well\n\n- _to be completed in the review_\n");
    let _ = writeln!(o, "## What went wrong\n\n- _to be completed in the review_\n");
    let _ = writeln!(o, "## Action items\n");
    let _ = writeln!(
        o,
        "| Action | Owner | Due |\n|---|---|---|\n| _to be completed in the review_ | | |"
    );
    out
}
