//! What a proof's ephemeral heap says about itself: the header the guest SDK's
//! allocator and the routed allocator keep at the start of memory 1
//! (layout in `multimem_transform::abi::heap`).

use multimem_transform::abi::heap::*;

/// Figures of the ephemeral heap at the end of a proof.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapFigures {
    /// [`HEAP_KIND_SDK`] or [`HEAP_KIND_ROUTED`].
    pub kind: u32,
    /// Bytes of memory 1 the heap spans (its high-water mark).
    pub high_water: u64,
    /// Peak live bytes during the proof (usable size of the blocks in use).
    pub peak_live: u64,
    /// Live bytes at the end of the proof.
    pub live: u64,
    pub allocations: u64,
    /// Stores of ephemeral pointers into memory 0 seen (check mode), logged or not.
    pub escapes: u64,
}

/// One logged escape: which instrumented store (see `multimem_transform::escapes::sites`) and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escape {
    pub site: u32,
    pub address: u32,
}

fn word(memory1: &[u8], at: u32) -> Option<u32> {
    Some(u32::from_le_bytes(memory1.get(at as usize..at as usize + 4)?.try_into().ok()?))
}

/// Reads the header of `memory1` (its bytes); `None` when it holds no heap.
pub fn figures(memory1: &[u8]) -> Option<HeapFigures> {
    if word(memory1, HEAP_MAGIC_AT)? != HEAP_MAGIC {
        return None;
    }
    let w = |at| word(memory1, at).unwrap_or(0) as u64;
    Some(HeapFigures {
        kind: w(HEAP_KIND_AT) as u32,
        high_water: w(HEAP_TOP_AT).saturating_sub(w(HEAP_BASE_AT)),
        peak_live: w(HEAP_PEAK_AT),
        live: w(HEAP_LIVE_AT),
        allocations: w(HEAP_ALLOCATIONS_AT),
        escapes: w(HEAP_ESCAPES_AT),
    })
}

/// The logged escapes of `memory1` (at most [`ESCAPE_LOG_ENTRIES`]; [`HeapFigures::escapes`] counts all).
pub fn escapes(memory1: &[u8]) -> Vec<Escape> {
    let Some(f) = figures(memory1) else { return Vec::new() };
    (0..f.escapes.min(ESCAPE_LOG_ENTRIES as u64) as u32)
        .filter_map(|n| {
            let at = ESCAPE_LOG_AT + 8 * n;
            Some(Escape { site: word(memory1, at)?, address: word(memory1, at + 4)? })
        })
        .collect()
}
