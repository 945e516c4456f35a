//! Evidence: failing pods, log lines, warning events, rollout history and the first error
//! time, gathered in parallel with a time bound and stored compactly.

mod build;
mod logs;

pub use build::{build_evidence, to_chrono};
pub use logs::fetch_logs;

/// Caps that keep status small whatever the cluster looks like.
pub const MAX_PODS: usize = 10;
pub const MAX_EVENTS: usize = 10;
pub const MAX_LOG_CONTAINERS: usize = 3;
pub const MAX_LOG_LINES: usize = 20;
pub const MAX_LINE_CHARS: usize = 240;
pub const MAX_REVISIONS: usize = 10;
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Cuts text to at most `max` characters on a character boundary, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
