//! How a prover gets its memory back, and the limits a caller sets.

use std::time::Duration;

/// Where proof-time memory goes and how it is reclaimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Transformed module, one Store per proof against a shared memory 0 that
    /// outlives it: dropping the Store drops memory 1. The default.
    Recreate,
    /// Transformed module, one instance; memory 1's pages are released
    /// (and read as zero) after each proof. Memory 1 keeps its size.
    InPlace,
    /// Untransformed module, one instance, nothing reclaimed.
    Baseline,
    /// View-form module (Linux, [`crate::engine_view`]), one Store per proof:
    /// memory 1 is a view whose range below the split maps memory 0's pages,
    /// so no access dispatches. Writes to persistent data persist.
    View,
    /// Like [`Strategy::View`] with memory 0 mapped copy-on-write during a
    /// proof: the proof's writes to persistent data (and its changes to the
    /// globals) vanish with it, as in a fork()ed child.
    PrivateView,
    /// Any module, no guest SDK (Linux, [`crate::engine_view`]): each proof
    /// runs in a private copy-on-write view of memory 0 whose `memory.grow`
    /// and `memory.size` are its own, so after a proof memory 0 (size and
    /// bytes) and the globals are exactly as before it, as in a fork()ed
    /// child. Several proofs may run at once ([`crate::Prover::proofs`]).
    Fork,
}

impl Strategy {
    pub const ALL: [Strategy; 6] = [Strategy::Baseline, Strategy::Recreate, Strategy::InPlace, Strategy::View, Strategy::PrivateView, Strategy::Fork];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::InPlace => "in-place",
            Strategy::Baseline => "baseline",
            Strategy::View => "view",
            Strategy::PrivateView => "private-view",
            Strategy::Fork => "fork",
        }
    }

    /// The form of transformed module the strategy runs, if it runs one.
    pub fn form(self) -> Option<multimem_transform::Form> {
        use multimem_transform::Form;
        match self {
            Strategy::Recreate | Strategy::InPlace => Some(Form::Portable),
            Strategy::View | Strategy::PrivateView | Strategy::Fork => Some(Form::View),
            Strategy::Baseline => None,
        }
    }

    /// Whether the strategy runs the transformed module.
    pub fn transformed(self) -> bool {
        self.form().is_some()
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown strategy `{s}` (expected recreate, in-place, baseline, view, private-view or fork)"))
    }
}

/// Limits on one proof.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Maximum size of memory 1 in bytes (rounded down to pages); growing past it fails like out of memory.
    pub memory1_max_bytes: Option<u64>,
    /// Maximum size of memory 0 in bytes (rounded down to pages): how far the
    /// prover's persistent state may grow, for runs that show when memory runs out.
    pub memory0_max_bytes: Option<u64>,
    /// Wall-clock time after which a call traps (epoch interruption, 10 ms resolution).
    pub deadline: Option<Duration>,
}
