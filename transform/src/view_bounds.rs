//! The view form's bounds for instructions wasmtime runs in host code.
//!
//! Below the split, the view holds memory 0's pages and then a hole up to the
//! split with no access. A load or store into the hole faults in compiled code
//! and wasmtime reports that as out of bounds, as the original would. But
//! `memory.fill`, `memory.copy`, `memory.init` and `memory.atomic.notify` are
//! host calls that check bounds against the view's size, which reaches past
//! the split: into the hole, fill and copy faulted in wasmtime's own code
//! (SIGSEGV, the process died) and notify returned 0 where the original
//! traps (found by the fork fuzz target).
//!
//! So such an instruction first checks its range against memory 0's size.
//! If the range starts below the split and does not fit in memory 0, the
//! original instruction runs on memory 0 itself: it traps exactly as in the
//! original module, before touching a byte. Otherwise it runs on the view.

use walrus::ir::*;
use walrus::{LocalFunction, LocalId, MemoryId, Module, ValType};

/// What the guard needs: memory 0, the split, and locals for the operands of
/// a checked instruction (three at most).
#[derive(Clone, Copy)]
pub(crate) struct Guard {
    memory0: MemoryId,
    split: u32,
    operands: [LocalId; 3],
}

/// A range the instruction touches: `[operand + offset, operand + offset + len)`.
struct Range {
    operand: usize,
    offset: u64,
    len: Len,
}

enum Len {
    Operand(usize),
    Bytes(u64),
}

/// Operand count, result type, and the ranges in memory 0 of an instruction
/// the host runs; `None` for those compiled code runs (the hole faults there).
fn checked(instr: &Instr, memory0: MemoryId) -> Option<(usize, Option<ValType>, Vec<Range>)> {
    let range = |operand, offset, len| Range { operand, offset, len };
    Some(match instr {
        Instr::MemoryFill(f) if f.memory == memory0 => (3, None, vec![range(0, 0, Len::Operand(2))]),
        Instr::MemoryInit(i) if i.memory == memory0 => (3, None, vec![range(0, 0, Len::Operand(2))]),
        Instr::MemoryCopy(c) if c.src == memory0 || c.dst == memory0 => {
            let sides = [(c.dst, 0), (c.src, 1)];
            (3, None, sides.into_iter().filter(|(m, _)| *m == memory0).map(|(_, operand)| range(operand, 0, Len::Operand(2))).collect())
        }
        Instr::AtomicNotify(n) if n.memory == memory0 => (2, Some(ValType::I32), vec![range(0, n.arg.offset, Len::Bytes(4))]),
        _ => return None,
    })
}

impl Guard {
    pub(crate) fn new(module: &mut Module, memory0: MemoryId, split: u32) -> Guard {
        Guard { memory0, split, operands: [(); 3].map(|_| module.locals.add(ValType::I32)) }
    }

    /// Pushes `aimed` (`original` on the view) onto `out`, guarded as the
    /// module doc says when `original` is one the host runs; `false` when it
    /// is not (the caller pushes `aimed` itself).
    pub(crate) fn push(&self, func: &mut LocalFunction, out: &mut Vec<(Instr, InstrLocId)>, original: &Instr, aimed: Instr, loc: InstrLocId) -> bool {
        let Some((arity, result, ranges)) = checked(original, self.memory0) else { return false };
        let operands = &self.operands[..arity];
        for &local in operands.iter().rev() {
            out.push((LocalSet { local }.into(), loc));
        }
        let builder = func.builder_mut();
        let mut arm = |instr: Instr| {
            let mut seq = builder.dangling_instr_seq(InstrSeqType::Simple(result));
            for &local in operands {
                seq.instr(LocalGet { local });
            }
            seq.instr(instr);
            seq.id()
        };
        let (on_memory0, on_view) = (arm(original.clone()), arm(aimed));
        for (i, range) in ranges.iter().enumerate() {
            push_outside_memory0(out, range, operands, self.memory0, self.split, loc);
            if i > 0 {
                out.push((Binop { op: BinaryOp::I32Or }.into(), loc));
            }
        }
        out.push((IfElse { consequent: on_memory0, alternative: on_view }.into(), loc));
        true
    }
}

/// Pushes whether `range` starts below the split and does not fit in memory 0.
fn push_outside_memory0(out: &mut Vec<(Instr, InstrLocId)>, range: &Range, operands: &[LocalId], memory0: MemoryId, split: u32, loc: InstrLocId) {
    let mut push = |instr: Instr| out.push((instr, loc));
    let extend = || Unop { op: UnaryOp::I64ExtendUI32 }.into();
    // The end, in 64 bits: no 32-bit sum wraps back into memory 0.
    push(LocalGet { local: operands[range.operand] }.into());
    push(extend());
    push(Const { value: Value::I64((range.offset) as i64) }.into());
    push(Binop { op: BinaryOp::I64Add }.into());
    match range.len {
        Len::Operand(n) => {
            push(LocalGet { local: operands[n] }.into());
            push(extend());
        }
        Len::Bytes(n) => push(Const { value: Value::I64(n as i64) }.into()),
    }
    push(Binop { op: BinaryOp::I64Add }.into());
    push(MemorySize { memory: memory0 }.into());
    push(extend());
    push(Const { value: Value::I64(16) }.into());
    push(Binop { op: BinaryOp::I64Shl }.into());
    push(Binop { op: BinaryOp::I64GtU }.into());
    push(LocalGet { local: operands[range.operand] }.into());
    push(Const { value: Value::I32(split as i32) }.into());
    push(Binop { op: BinaryOp::I32LtU }.into());
    push(Binop { op: BinaryOp::I32And }.into());
}
