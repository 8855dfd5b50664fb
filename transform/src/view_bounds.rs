//! The view form's bounds for instructions wasmtime runs in host code.
//!
//! Below the split, the view holds memory 0's pages and then a hole up to the
//! split with no access. A load or store into the hole faults in compiled code
//! and wasmtime reports that as out of bounds, as the original would. But
//! `memory.fill`, `memory.copy`, `memory.init`, `memory.atomic.notify` and
//! `memory.atomic.wait` are host calls that check bounds against the view's
//! size, which reaches past the split: into the hole, fill and copy faulted
//! in wasmtime's own code (SIGSEGV, the process died), notify returned 0 and
//! wait reported an unshared memory where the original traps out of bounds
//! (found by the fork fuzz target).
//!
//! So such an instruction first checks its range against memory 0's size.
//! If the range starts below the split and does not fit in memory 0, the
//! original instruction runs on memory 0 itself: it traps exactly as in the
//! original module, before touching a byte. Otherwise it runs on the view.

use walrus::ir::*;
use walrus::{LocalFunction, LocalId, MemoryId, Module, ValType};

/// What the guard needs: memory 0, the split, and locals for the operands of
/// a checked instruction (three at most; wait's are i32, i32 or i64, i64).
#[derive(Clone, Copy)]
pub(crate) struct Guard {
    memory0: MemoryId,
    split: u32,
    i32s: [LocalId; 3],
    i64s: [LocalId; 2],
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

/// An instruction the host runs: its operand types, result type, and the
/// ranges it touches in memory 0.
struct Checked {
    operands: &'static [ValType],
    result: Option<ValType>,
    ranges: Vec<Range>,
}

/// `None` for instructions compiled code runs (the hole faults there).
fn checked(instr: &Instr, memory0: MemoryId) -> Option<Checked> {
    use ValType::{I32, I64};
    let range = |operand, offset, len| Range { operand, offset, len };
    let bulk = |ranges| Checked { operands: &[I32, I32, I32], result: None, ranges };
    Some(match instr {
        Instr::MemoryFill(f) if f.memory == memory0 => bulk(vec![range(0, 0, Len::Operand(2))]),
        Instr::MemoryInit(i) if i.memory == memory0 => bulk(vec![range(0, 0, Len::Operand(2))]),
        Instr::MemoryCopy(c) if c.src == memory0 || c.dst == memory0 => {
            let sides = [(c.dst, 0), (c.src, 1)];
            bulk(sides.into_iter().filter(|(m, _)| *m == memory0).map(|(_, operand)| range(operand, 0, Len::Operand(2))).collect())
        }
        Instr::AtomicNotify(n) if n.memory == memory0 => {
            Checked { operands: &[I32, I32], result: Some(I32), ranges: vec![range(0, n.arg.offset, Len::Bytes(4))] }
        }
        Instr::AtomicWait(w) if w.memory == memory0 => {
            let (operands, bytes): (&[ValType], _) = if w.sixty_four { (&[I32, I64, I64], 8) } else { (&[I32, I32, I64], 4) };
            Checked { operands, result: Some(I32), ranges: vec![range(0, w.arg.offset, Len::Bytes(bytes))] }
        }
        _ => return None,
    })
}

impl Guard {
    pub(crate) fn new(module: &mut Module, memory0: MemoryId, split: u32) -> Guard {
        let i32s = [(); 3].map(|_| module.locals.add(ValType::I32));
        let i64s = [(); 2].map(|_| module.locals.add(ValType::I64));
        Guard { memory0, split, i32s, i64s }
    }

    /// A local for each operand, by type in order.
    fn locals(&self, types: &[ValType]) -> Vec<LocalId> {
        let (mut i32s, mut i64s) = (self.i32s.iter(), self.i64s.iter());
        types.iter().map(|t| *if *t == ValType::I64 { i64s.next() } else { i32s.next() }.expect("three operands at most")).collect()
    }

    /// Pushes `aimed` (`original` on the view) onto `out`, guarded as the
    /// module doc says when `original` is one the host runs.
    pub(crate) fn push(&self, func: &mut LocalFunction, out: &mut Vec<(Instr, InstrLocId)>, original: Instr, aimed: Instr, loc: InstrLocId) {
        let Some(Checked { operands, result, ranges }) = checked(&original, self.memory0) else {
            out.push((aimed, loc));
            return;
        };
        let operands = &self.locals(operands)[..];
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
        let (on_memory0, on_view) = (arm(original), arm(aimed));
        for (i, range) in ranges.iter().enumerate() {
            push_outside_memory0(out, range, operands, self.memory0, self.split, loc);
            if i > 0 {
                out.push((Binop { op: BinaryOp::I32Or }.into(), loc));
            }
        }
        out.push((IfElse { consequent: on_memory0, alternative: on_view }.into(), loc));
    }
}

/// Pushes whether `range` starts below the split and does not fit in memory 0.
fn push_outside_memory0(out: &mut Vec<(Instr, InstrLocId)>, range: &Range, operands: &[LocalId], memory0: MemoryId, split: u32, loc: InstrLocId) {
    let mut push = |instr: Instr| out.push((instr, loc));
    let extend = || Unop { op: UnaryOp::I64ExtendUI32 }.into();
    // The end, in 64 bits: no 32-bit sum wraps back into memory 0.
    push(LocalGet { local: operands[range.operand] }.into());
    push(extend());
    push(Const { value: Value::I64(range.offset as i64) }.into());
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
