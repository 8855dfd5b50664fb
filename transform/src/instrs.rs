//! Walks and edits of instructions that several passes share.
//!
//! Passes import from here, never from each other: provenance, versioning,
//! dispatch and the view rewrite all walk a function's sequences the same way.

use walrus::ir::*;
use walrus::LocalFunction;

/// Every instruction sequence reachable from the function's entry.
pub fn instr_seqs(func: &LocalFunction) -> Vec<InstrSeqId> {
    seqs_under(func, func.entry_block())
}

/// `root` and every sequence nested in it, outermost first (in the order of
/// walrus's `dfs_in_order`, without visiting each instruction: this runs once
/// per function per pass, on modules of millions of instructions).
pub fn seqs_under(func: &LocalFunction, root: InstrSeqId) -> Vec<InstrSeqId> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    let mut nested = Vec::new();
    while let Some(seq) = stack.pop() {
        out.push(seq);
        nested.clear();
        for (instr, _) in &func.block(seq).instrs {
            match instr {
                Instr::Block(Block { seq }) | Instr::Loop(Loop { seq }) | Instr::TryTable(TryTable { seq, .. }) => nested.push(*seq),
                Instr::IfElse(IfElse { consequent, alternative }) => nested.extend([*consequent, *alternative]),
                Instr::Try(Try { seq, catches }) => {
                    nested.push(*seq);
                    nested.extend(catches.iter().filter_map(|c| match c {
                        LegacyCatch::Catch { handler, .. } | LegacyCatch::CatchAll { handler } => Some(*handler),
                        LegacyCatch::Delegate { .. } => None,
                    }));
                }
                _ => {}
            }
        }
        stack.extend(nested.iter().rev());
    }
    out
}

/// The same instruction, aimed at another memory.
pub fn retarget(instr: &Instr, memory: walrus::MemoryId) -> Instr {
    let mut instr = instr.clone();
    match &mut instr {
        Instr::Load(i) => i.memory = memory,
        Instr::Store(i) => i.memory = memory,
        Instr::LoadSimd(i) => i.memory = memory,
        Instr::AtomicRmw(i) => i.memory = memory,
        Instr::Cmpxchg(i) => i.memory = memory,
        Instr::AtomicNotify(i) => i.memory = memory,
        Instr::AtomicWait(i) => i.memory = memory,
        Instr::MemoryFill(i) => i.memory = memory,
        Instr::MemoryInit(i) => i.memory = memory,
        other => unreachable!("not a single-memory access: {other:?}"),
    }
    instr
}
