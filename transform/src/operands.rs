//! Reading stack-machine code backwards: which instruction produced an operand.
//!
//! An operand of an instruction need not be computed right before it: a
//! store's address is often pushed first and its value computed by hundreds
//! of instructions, with `local.set`s and calls in between. Counting stack
//! effects backwards through a sequence finds the producer as long as every
//! instruction on the way has a known effect (no branches).

use std::collections::HashMap;

use walrus::ir::*;
use walrus::{FunctionId, LocalFunction, Module, ModuleTypes};

/// Farthest back an operand is looked for, in instructions.
const MAX_SCAN: usize = 8192;

/// Stack effects of the instructions of one module.
pub struct StackEffects<'a> {
    types: &'a ModuleTypes,
    /// Parameters and results of every function.
    funcs: HashMap<FunctionId, (usize, usize)>,
}

impl<'a> StackEffects<'a> {
    pub fn new(module: &'a Module) -> Self {
        let funcs = module
            .funcs
            .iter()
            .map(|f| {
                let ty = module.types.get(f.ty());
                (f.id(), (ty.params().len(), ty.results().len()))
            })
            .collect();
        StackEffects { types: &module.types, funcs }
    }

    /// Where the value `depth` places below the top of the stack just before
    /// `instrs[end]` was pushed.
    pub fn producer(&self, func: &LocalFunction, instrs: &[(Instr, InstrLocId)], end: usize, depth: usize) -> Option<usize> {
        // `extra`: values later instructions consumed that earlier ones must have pushed.
        let (mut extra, mut skip) = (0usize, depth);
        for i in (end.saturating_sub(MAX_SCAN)..end).rev() {
            let (pops, pushes) = self.of(func, &instrs[i].0)?;
            let surviving = pushes.saturating_sub(extra);
            extra = extra.saturating_sub(pushes) + pops;
            if surviving > skip {
                return Some(i);
            }
            skip -= surviving;
        }
        None
    }

    /// Values `instr` pops and pushes; `None` for branches and what is not modelled.
    pub fn of(&self, func: &LocalFunction, instr: &Instr) -> Option<(usize, usize)> {
        let block = |seq: InstrSeqId| match func.block(seq).ty {
            InstrSeqType::Simple(result) => (0, usize::from(result.is_some())),
            InstrSeqType::MultiValue(ty) => {
                let ty = self.types.get(ty);
                (ty.params().len(), ty.results().len())
            }
        };
        Some(match instr {
            Instr::Block(b) => block(b.seq),
            Instr::Loop(l) => block(l.seq),
            Instr::IfElse(e) => {
                let (pops, pushes) = block(e.consequent);
                (pops + 1, pushes)
            }
            Instr::Call(c) => self.funcs[&c.func],
            Instr::CallIndirect(c) => {
                let ty = self.types.get(c.ty);
                (ty.params().len() + 1, ty.results().len())
            }
            Instr::Const(_) | Instr::LocalGet(_) | Instr::GlobalGet(_) | Instr::MemorySize(_) | Instr::RefNull(_) | Instr::RefFunc(_) | Instr::TableSize(_) => (0, 1),
            Instr::LocalTee(_) | Instr::Unop(_) | Instr::Load(_) | Instr::MemoryGrow(_) | Instr::RefIsNull(_) | Instr::TableGet(_) => (1, 1),
            Instr::LocalSet(_) | Instr::GlobalSet(_) | Instr::Drop(_) => (1, 0),
            Instr::Binop(_) | Instr::AtomicRmw(_) | Instr::AtomicNotify(_) | Instr::I8x16Swizzle(_) | Instr::I8x16Shuffle(_) | Instr::TableGrow(_) => (2, 1),
            Instr::Store(_) | Instr::TableSet(_) => (2, 0),
            Instr::Select(_) | Instr::Cmpxchg(_) | Instr::AtomicWait(_) | Instr::V128Bitselect(_) => (3, 1),
            Instr::MemoryInit(_) | Instr::MemoryCopy(_) | Instr::MemoryFill(_) | Instr::TableFill(_) => (3, 0),
            Instr::DataDrop(_) | Instr::AtomicFence(_) => (0, 0),
            Instr::LoadSimd(l) => match l.kind {
                LoadSimdKind::V128Load8Lane(_) | LoadSimdKind::V128Load16Lane(_) | LoadSimdKind::V128Load32Lane(_) | LoadSimdKind::V128Load64Lane(_) => (2, 1),
                LoadSimdKind::V128Store8Lane(_) | LoadSimdKind::V128Store16Lane(_) | LoadSimdKind::V128Store32Lane(_) | LoadSimdKind::V128Store64Lane(_) => (2, 0),
                _ => (1, 1),
            },
            _ => return None,
        })
    }
}
