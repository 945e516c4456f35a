//! Crash points for crash-safety tests. The process dies by SIGKILL, as it would under the OOM
//! killer or a node failure: no destructor runs, nothing is flushed, nothing is written after.

/// Kills this process with SIGKILL after saying why.
pub fn kill_self(reason: &str) -> ! {
    tracing::error!(reason, "crash point reached; killing this process with SIGKILL");
    // SAFETY: raise() only sends a signal to the calling process; it touches no memory.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
    unreachable!("SIGKILL cannot be caught or ignored")
}
