//! Step 3 of the view form: point every memory-0 access at memory 1, same address.
//!
//! The host maps memory 0's pages into memory 1 below the split, so a pointer
//! means the same byte in memory 1 whatever its tag: nothing dispatches.
//! `memory.size`/`memory.grow` of memory 0 stay (the persistent allocator's view).
//! Instructions wasmtime runs in host code check memory 0's bounds first
//! ([`crate::view_bounds`]).

use anyhow::Result;
use rayon::prelude::*;
use walrus::ir::*;
use walrus::{LocalFunction, MemoryId, Module};

use crate::instrs::{instr_seqs, retarget};
use crate::view_bounds::Guard;
use crate::{DispatchStats, Layout};

pub fn run(module: &mut Module, layout: &Layout) -> Result<DispatchStats> {
    let (from, to) = (layout.persistent, layout.ephemeral);
    let guard = Guard::new(module, from, layout.split);
    let stats = module
        .funcs
        .par_iter_local_mut()
        .map(|(_, func)| function(func, from, to, &guard))
        .reduce(DispatchStats::default, DispatchStats::add);
    Ok(stats)
}

fn function(func: &mut LocalFunction, from: MemoryId, to: MemoryId, guard: &Guard) -> DispatchStats {
    let mut stats = DispatchStats::default();
    for seq in instr_seqs(func) {
        if !func.block(seq).instrs.iter().any(|(instr, _)| touches(instr, from)) {
            continue;
        }
        let old = std::mem::take(&mut func.block_mut(seq).instrs);
        let mut new = Vec::with_capacity(old.len());
        for (instr, loc) in old {
            if !touches(&instr, from) {
                new.push((instr, loc));
                continue;
            }
            let aimed = match &instr {
                Instr::MemoryCopy(c) => MemoryCopy { src: swap(c.src, from, to), dst: swap(c.dst, from, to) }.into(),
                other => retarget(other, to),
            };
            stats.retargeted += 1;
            guard.push(func, &mut new, instr, aimed, loc);
        }
        func.block_mut(seq).instrs = new;
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
