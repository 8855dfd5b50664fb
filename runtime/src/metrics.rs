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
    /// Memory 0 size as the proof saw it at its end, in pages: under the fork
    /// strategy its own growth, gone afterwards; otherwise `memory0_pages`.
    pub memory0_proof_pages: u64,
    /// Memory 1 size at the end of the proof, in pages (it never shrinks during one).
    pub memory1_peak_pages: u64,
    /// Resident set size of the process after memory 1 was given back,
    /// memory 0's pages included (see [`rss_bytes`]).
    pub rss_bytes: u64,
    /// A copy-on-write proof (private view, fork): OS pages of memory 0 it
    /// wrote, each copied on its first write.
    pub cow_pages: u64,
    /// A copy-on-write proof: OS pages it touched above memory 0 (its own
    /// growth of memory 0, and memory 1's scratch).
    pub fresh_pages: u64,
    /// The ephemeral heap's own figures, when the proof had one (guest SDK or routed allocator).
    pub heap: Option<crate::HeapFigures>,
    /// Memory 1's pages could not be given back (in place) and were zeroed instead: still resident.
    pub release_failed: bool,
}

impl ProofMetrics {
    /// Creating plus dropping memory 1.
    pub fn reset(&self) -> Duration {
        self.create + self.drop
    }
}

/// Resident set size of this process (Linux; 0 elsewhere), memory 0 included.
///
/// The view strategies keep memory 0 in a memfd that is unmapped between
/// calls, where the kernel's RSS leaves it out: its resident pages are added.
/// While a view maps it (proofs at once), its pages the kernel counts (in
/// `RssShmem`) are not added twice: the figure is then `RssAnon + RssFile +
/// max(RssShmem, memory 0's resident bytes)`.
pub fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let rss = pages * page_size();
    #[cfg(target_os = "linux")]
    {
        let (memory0, mapped) = crate::view::resident();
        if mapped {
            let shmem = status_kib("RssShmem:") * 1024;
            return rss - shmem + shmem.max(memory0);
        }
        return rss + memory0;
    }
    #[allow(unreachable_code)]
    rss
}

/// A `kB` field of `/proc/self/status`.
#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field));
    line.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}
