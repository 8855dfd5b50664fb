//! Step 3 of the view form: point every memory-0 access at memory 1, same address.
//!
//! The host maps memory 0's pages into memory 1 below the split, so a pointer
//! means the same byte in memory 1 whatever its tag: nothing dispatches.
//! `memory.size`/`memory.grow` of memory 0 stay (the persistent allocator's view).

use anyhow::Result;
use rayon::prelude::*;
use walrus::ir::*;
use walrus::{LocalFunction, MemoryId, Module};

use crate::instrs::{instr_seqs, retarget};
use crate::{DispatchStats, Layout};

pub fn run(module: &mut Module, layout: &Layout) -> Result<DispatchStats> {
    let (from, to) = (layout.persistent, layout.ephemeral);
    let stats = module
        .funcs
        .par_iter_local_mut()
        .map(|(_, func)| function(func, from, to))
        .reduce(DispatchStats::default, DispatchStats::add);
    Ok(stats)
}

fn function(func: &mut LocalFunction, from: MemoryId, to: MemoryId) -> DispatchStats {
    let mut stats = DispatchStats::default();
    for seq in instr_seqs(func) {
        for (instr, _) in func.block_mut(seq).instrs.iter_mut() {
            if !touches(instr, from) {
                continue;
            }
            let aimed = match &*instr {
                Instr::MemoryCopy(c) => MemoryCopy { src: swap(c.src, from, to), dst: swap(c.dst, from, to) }.into(),
                other => retarget(other, to),
            };
            *instr = aimed;
            stats.retargeted += 1;
        }
    }
    stats
}

/// Whether `instr` reads or writes memory `m` (size and grow do not count).
fn touches(instr: &Instr, m: MemoryId) -> bool {
    match instr {
        Instr::Load(i) => i.memory == m,
        Instr::Store(i) => i.memory == m,
        Instr::LoadSimd(i) => i.memory == m,
        Instr::AtomicRmw(i) => i.memory == m,
        Instr::Cmpxchg(i) => i.memory == m,
        Instr::AtomicNotify(i) => i.memory == m,
        Instr::AtomicWait(i) => i.memory == m,
        Instr::MemoryFill(i) => i.memory == m,
        Instr::MemoryInit(i) => i.memory == m,
        Instr::MemoryCopy(c) => c.src == m || c.dst == m,
        _ => false,
    }
}

fn swap(memory: MemoryId, from: MemoryId, to: MemoryId) -> MemoryId {
    if memory == from {
        to
    } else {
        memory
    }
}
