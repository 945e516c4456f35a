//! Crash points for crash-safety tests, compiled in only with the `failpoints` feature (the
//! test build enables it; a release binary has none). At a crash point the process dies by
//! SIGKILL, as it would under the OOM killer or a node failure: no destructor runs, nothing is
//! flushed, nothing is written after.

use crate::api::Phase;

/// A place in the lifecycle where a crash must lose nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// A step's intent is persisted; its action has not run.
    AfterIntent,
    /// A revert's intent is persisted; the revert has not run.
    AfterRevertIntent,
    /// A status write moved an Incident into this phase; nothing after it ran.
    EnteredPhase(Phase),
}

/// The crash points armed for this process.
#[derive(Debug, Clone, Default)]
pub struct Failpoints {
    #[cfg(feature = "failpoints")]
    armed: Vec<Point>,
}

impl Failpoints {
    /// Arms crash points (only with the `failpoints` feature).
    #[cfg(feature = "failpoints")]
    pub fn armed(points: Vec<Point>) -> Failpoints {
        Failpoints { armed: points }
    }

    /// Dies here when this point is armed; does nothing otherwise.
    #[inline]
    pub fn reached(&self, point: Point) {
        #[cfg(feature = "failpoints")]
        if self.armed.contains(&point) {
            kill_self(point);
        }
        #[cfg(not(feature = "failpoints"))]
        let _ = point;
    }
}

#[cfg(feature = "failpoints")]
fn kill_self(point: Point) -> ! {
    tracing::error!(?point, "crash point reached; killing this process with SIGKILL");
    // SAFETY: raise() only sends a signal to the calling process; it touches no memory.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
    unreachable!("SIGKILL cannot be caught or ignored")
}
