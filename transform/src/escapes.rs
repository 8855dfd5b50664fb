//! Check mode: find persistent state that keeps proof-time pointers.
//!
//! Every full-width i32 and i64 store into memory 0 in the module's own code
//! first reports its address and value (both halves of an i64: LLVM merges
//! two pointer stores into one) to the heap's `escape` function, which logs
//! it when the value points into this proof's heap and the address is not on
//! the live stack (between the stack pointer and its initial value). Each
//! instrumented store is a *site*; the custom section
//! [`crate::abi::ESCAPE_SITES_SECTION`] names the function of each site, one
//! per line, so that a host can say who stored the pointer (function indices
//! do not survive emission: walrus orders functions by size).

use std::collections::HashSet;

use anyhow::Result;
use walrus::ir::*;
use walrus::{FunctionId, LocalFunction, LocalId, Module, ValType};

/// Instruments the stores of every defined function outside `skip`; returns how many sites.
pub fn run(module: &mut Module, memory0: walrus::MemoryId, escape: FunctionId, skip: &HashSet<FunctionId>) -> Result<usize> {
    let scratch = Scratch { address: module.locals.add(ValType::I32), value32: module.locals.add(ValType::I32), value64: module.locals.add(ValType::I64) };
    let mut sites: Vec<String> = Vec::new();
    let ids: Vec<FunctionId> = module.funcs.iter_local().map(|(id, _)| id).filter(|id| !skip.contains(id)).collect();
    for id in ids {
        let name = module.funcs.get(id).name.as_deref().map(crate::find_allocator::demangle).unwrap_or_else(|| format!("function {}", id.index()));
        let walrus::FunctionKind::Local(func) = &mut module.funcs.get_mut(id).kind else { continue };
        let before = sites.len();
        instrument(func, memory0, escape, &scratch, &mut sites);
        for site in &mut sites[before..] {
            site.clone_from(&name);
        }
    }
    let count = sites.len();
    module.customs.add(walrus::RawCustomSection { name: crate::abi::ESCAPE_SITES_SECTION.to_string(), data: sites.join("\n").into_bytes() });
    Ok(count)
}

struct Scratch {
    address: LocalId,
    value32: LocalId,
    value64: LocalId,
}

fn instrument(func: &mut LocalFunction, memory0: walrus::MemoryId, escape: FunctionId, s: &Scratch, sites: &mut Vec<String>) {
    let mut stack = vec![func.entry_block()];
    while let Some(seq) = stack.pop() {
        let old = std::mem::take(&mut func.block_mut(seq).instrs);
        let mut new = Vec::with_capacity(old.len());
        for (instr, at) in old {
            match &instr {
                Instr::Block(Block { seq }) | Instr::Loop(Loop { seq }) => stack.push(*seq),
                Instr::IfElse(IfElse { consequent, alternative }) => stack.extend([*consequent, *alternative]),
                Instr::TryTable(TryTable { seq, .. }) => stack.push(*seq),
                _ => {}
            }
            let Instr::Store(store) = &instr else {
                new.push((instr, at));
                continue;
            };
            let wide = match store.kind {
                StoreKind::I32 { .. } => false,
                StoreKind::I64 { .. } => true,
                _ => {
                    new.push((instr, at));
                    continue;
                }
            };
            if store.memory != memory0 {
                new.push((instr, at));
                continue;
            }
            let offset = store.arg.offset as i32;
            let value = if wide { s.value64 } else { s.value32 };
            let mut push = |i: Instr| new.push((i, at));
            push(LocalSet { local: value }.into());
            push(LocalSet { local: s.address }.into());
            let halves: &[i32] = if wide { &[0, 4] } else { &[0] };
            for &half in halves {
                let site = sites.len() as i32;
                sites.push(String::new());
                push(LocalGet { local: s.address }.into());
                push(Const { value: Value::I32(offset.wrapping_add(half)) }.into());
                push(Binop { op: BinaryOp::I32Add }.into());
                push(LocalGet { local: value }.into());
                if wide {
                    if half != 0 {
                        push(Const { value: Value::I64(32) }.into());
                        push(Binop { op: BinaryOp::I64ShrU }.into());
                    }
                    push(Unop { op: UnaryOp::I32WrapI64 }.into());
                }
                push(Const { value: Value::I32(site) }.into());
                push(Call { func: escape }.into());
            }
            push(LocalGet { local: s.address }.into());
            push(LocalGet { local: value }.into());
            push(instr);
        }
        func.block_mut(seq).instrs = new;
    }
}

/// The function names of a transformed module's escape sites, by site.
pub fn sites(wasm: &[u8]) -> Vec<String> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(s)) = payload {
            if s.name() == crate::abi::ESCAPE_SITES_SECTION {
                return String::from_utf8_lossy(s.data()).lines().map(str::to_string).collect();
            }
        }
    }
    Vec::new()
}
