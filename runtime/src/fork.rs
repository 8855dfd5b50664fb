//! The fork strategy's own parts: proofs at once on one memory 0, and what a
//! copy-on-write proof cost in pages.
//!
//! A fork proof runs in a private view of memory 0 (see `view.rs`): its
//! writes, its growth of memory 0 and its globals vanish with it. Nothing a
//! proof does reaches the prover, so proofs need only `&Prover`; setup needs
//! `&mut Prover`, which the borrow of a [`Proofs`] handle rules out.

use anyhow::Result;

use crate::{ProofMetrics, Prover, Session};

/// Proofs that may run at once, on any threads, each in its own private view
/// of the prover's one memory 0. While it lives the prover cannot run setup
/// (`Prover::call` and `Prover::run` take `&mut`).
pub struct Proofs<'p, T: 'static> {
    prover: &'p Prover<T>,
}

impl<'p, T: Default + Send + 'static> Proofs<'p, T> {
    pub(crate) fn new(prover: &'p Prover<T>) -> Self {
        Proofs { prover }
    }

    /// Runs one proof as [`Prover::prove`] does.
    pub fn prove<R>(&self, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> (Result<R>, ProofMetrics) {
        self.prover.prove_forked(f)
    }
}

/// OS pages a copy-on-write proof held when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Touched {
    /// Memory 0's pages the proof wrote (private copies).
    pub copied: u64,
    /// Pages above memory 0's end: the proof's own growth, and memory 1's scratch.
    pub fresh: u64,
}

impl Touched {
    /// Reads `/proc/self/pagemap` over the view at `base`: memory 0 spans
    /// `[0, persistent)`, the proof grew it to `grown`, scratch spans `[split, view)`.
    /// Zero when the kernel does not say.
    pub(crate) fn of(base: *const u8, persistent: u64, grown: u64, split: u64, view: u64) -> Touched {
        let count = |from: u64, to: u64, anon_only: bool| -> u64 {
            if to <= from {
                return 0;
            }
            pagemap(base as u64 + from, base as u64 + to, anon_only).unwrap_or(0)
        };
        Touched { copied: count(0, persistent, true), fresh: count(persistent, grown.max(persistent), false) + count(split, view, false) }
    }
}

/// Present pages in `[from, to)` of this process, only anonymous (copied) ones if `anon_only`.
fn pagemap(from: u64, to: u64, anon_only: bool) -> Result<u64> {
    use std::os::unix::fs::FileExt;
    const PRESENT: u64 = 1 << 63;
    const FILE_OR_SHARED: u64 = 1 << 61;
    let page = 4096u64;
    let file = std::fs::File::open("/proc/self/pagemap")?;
    let mut entries = vec![0u8; 8 * 8192];
    let mut count = 0;
    let mut at = from / page;
    let end = to.div_ceil(page);
    while at < end {
        let n = (end - at).min(8192) as usize;
        let buf = &mut entries[..8 * n];
        file.read_exact_at(buf, at * 8)?;
        for entry in buf.chunks_exact(8).map(|e| u64::from_le_bytes(e.try_into().unwrap())) {
            if entry & PRESENT != 0 && !(anon_only && entry & FILE_OR_SHARED != 0) {
                count += 1;
            }
        }
        at += n as u64;
    }
    Ok(count)
}
