//! Short, bounded waits inside `apply`: a reconcile never blocks for long. When the budget runs
//! out the action returns a transient error, and the retried step finds what it started.

use super::ActionError;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long one `apply` waits for a cloud resource to settle.
pub const BUDGET: Duration = Duration::from_secs(20);
/// Time between reads while waiting.
pub const POLL: Duration = Duration::from_secs(2);

/// One read while waiting.
pub enum Progress<T> {
    Done(T),
    /// Not yet, with the state seen.
    Waiting(String),
}

/// Calls `check` until it is done or fails; when the budget is spent first, a transient error
/// says what `what` was last seen as.
pub async fn until<T, F, Fut>(what: &str, budget: Duration, mut check: F) -> Result<T, ActionError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress<T>, ActionError>>,
{
    let deadline = Instant::now() + budget;
    loop {
        let seen = match check().await? {
            Progress::Done(done) => return Ok(done),
            Progress::Waiting(seen) => seen,
        };
        if Instant::now() + POLL > deadline {
            return Err(ActionError::Transient(format!(
                "{what} is {seen} after {}s; the step resumes and waits again",
                budget.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
