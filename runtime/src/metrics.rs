//! What one proof cost.

use std::time::Duration;

/// Figures of one proof.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProofMetrics {
    /// Time in the guest (the closure given to `Prover::prove`).
    pub wall: Duration,
    /// Time to get a fresh memory 1 before the proof (new Store and instance; zero in place).
    pub create: Duration,
    /// Time to give memory 1 back after the proof (Store drop or page release),
    /// most of which is the kernel releasing the pages the proof touched.
    pub drop: Duration,
    /// Memory 0 size after the proof, in pages.
    pub memory0_pages: u64,
    /// Memory 1 size at the end of the proof, in pages (it never shrinks during one).
    pub memory1_peak_pages: u64,
    /// Resident memory of the process after memory 1 was given back
    /// ([`crate::Prover::resident_bytes`]: RSS, plus memory 0's memfd pages under the view strategies).
    pub rss_bytes: u64,
    /// The ephemeral heap's own figures, when the proof had one (guest SDK or routed allocator).
    pub heap: Option<crate::HeapFigures>,
}

impl ProofMetrics {
    /// Creating plus dropping memory 1.
    pub fn reset(&self) -> Duration {
        self.create + self.drop
    }
}

/// Resident set size of this process (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}
