//! Memory 0 stops at the split where it grows, not in its declared type.
//!
//! A transformed module must accept every memory its original accepted: glue
//! code creates memory 0 itself (wasm-bindgen's threads, `maximum: 65536`), and
//! a declared maximum lowered to the split would refuse it at link time. So
//! memory 0 keeps its limits, and each `memory.grow` of memory 0 becomes a call
//! to a function that fails (returns -1, as out of memory does) when the grow
//! would take memory 0 past the split. Nothing changes when the declared
//! maximum already keeps memory 0 below the split.
//!
//! The check and the grow are two steps: threads growing a shared memory 0 at
//! once could pass the check together. Threaded allocators grow under a lock.
//! Growth from the host side (JavaScript's `Memory.grow`, emscripten's
//! `emscripten_resize_heap`) is not seen here; a host that grows memory 0
//! itself keeps it below the split itself.

use anyhow::Result;
use walrus::ir::{BinaryOp, Instr, MemoryGrow, UnaryOp, Value};
use walrus::{FunctionBuilder, FunctionId, MemoryId, Module, ValType};

use crate::instrs::instr_seqs;
use crate::{Layout, PAGE};

/// Name of the function every `memory.grow` of memory 0 calls.
pub const GROW_FUNCTION: &str = "multimem_grow_persistent";

/// Returns how many `memory.grow` instructions now stop at the split.
pub fn run(module: &mut Module, layout: &Layout) -> Result<u64> {
    let cap = layout.split as u64 / PAGE;
    let memory0 = module.memories.get(layout.persistent);
    if memory0.maximum.is_some_and(|max| max <= cap) {
        return Ok(0);
    }
    let grows = find_grows(module, layout.persistent);
    if grows.is_empty() {
        return Ok(0);
    }
    let checked = add_checked_grow(module, layout.persistent, cap);
    for &(func, seq, index) in &grows {
        let local = module.funcs.get_mut(func).kind.unwrap_local_mut();
        local.block_mut(seq).instrs[index].0 = Instr::Call(walrus::ir::Call { func: checked });
    }
    Ok(grows.len() as u64)
}

fn find_grows(module: &Module, memory: MemoryId) -> Vec<(FunctionId, walrus::ir::InstrSeqId, usize)> {
    let mut found = Vec::new();
    for (id, func) in module.funcs.iter_local() {
        for seq in instr_seqs(func) {
            for (index, (instr, _)) in func.block(seq).instrs.iter().enumerate() {
                if matches!(instr, Instr::MemoryGrow(MemoryGrow { memory: m }) if *m == memory) {
                    found.push((id, seq, index));
                }
            }
        }
    }
    found
}

/// `(param $pages i32) (result i32)`: -1 if memory 0 would pass `cap` pages, else `memory.grow 0`.
fn add_checked_grow(module: &mut Module, memory: MemoryId, cap: u64) -> FunctionId {
    let pages = module.locals.add(ValType::I32);
    let mut builder = FunctionBuilder::new(&mut module.types, &[ValType::I32], &[ValType::I32]);
    builder.name(GROW_FUNCTION.to_string());
    let mut body = builder.func_body();
    // In 64 bits: size + pages cannot wrap.
    body.memory_size(memory)
        .unop(UnaryOp::I64ExtendUI32)
        .local_get(pages)
        .unop(UnaryOp::I64ExtendUI32)
        .binop(BinaryOp::I64Add)
        .const_(Value::I64(cap as i64))
        .binop(BinaryOp::I64GtU);
    body.if_else(
        Some(ValType::I32),
        |then| {
            then.i32_const(-1);
        },
        |otherwise| {
            otherwise.local_get(pages).memory_grow(memory);
        },
    );
    builder.finish(vec![pages], &mut module.funcs)
}
