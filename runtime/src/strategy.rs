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
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Baseline, Strategy::Recreate, Strategy::InPlace];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Recreate => "recreate",
            Strategy::InPlace => "in-place",
            Strategy::Baseline => "baseline",
        }
    }

    /// Whether the strategy runs the transformed module.
    pub fn transformed(self) -> bool {
        self != Strategy::Baseline
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
            .ok_or_else(|| format!("unknown strategy `{s}` (expected recreate, in-place or baseline)"))
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
