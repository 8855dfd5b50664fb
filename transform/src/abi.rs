//! The names multimem agrees on with guests and hosts, in one place.
//!
//! Guest side: a guest (for example through the multimem-guest SDK) imports
//! these functions from module [`IMPORT_MODULE`]; the transformer replaces each
//! import with the instruction it stands for. An untransformed guest gets them
//! from its host, which answers "no proof active" (see [`untransformed_answer`]).
//!
//! | import | type | becomes |
//! |---|---|---|
//! | `multimem.ephemeral_size` | `[] -> [i32]` | `memory.size 1` (pages) |
//! | `multimem.ephemeral_grow` | `[i32] -> [i32]` | `memory.grow 1` |
//!
//! (In the view form memory 1 starts at the split, so both count from there.)
//! | `multimem.proof_active` | `[] -> [i32]` | `global.get` of the proof-mode flag |
//! | `multimem.split` | `[] -> [i32]` | `i32.const S` |
//!
//! Host side: the transformed module exports [`EXPORT_PERSISTENT_MEMORY`],
//! [`EXPORT_EPHEMERAL_MEMORY`], the proof-mode flag [`EXPORT_PROOF_ACTIVE`]
//! (a mutable i32 global the host sets around a proof), the stack pointer
//! [`EXPORT_STACK_POINTER`] when one is found, and every mutable global as
//! `multimem.global.N` (N its index), so a host can carry them between instances.

use anyhow::{bail, Context, Result};
use walrus::ir::BinaryOp;
use walrus::{FunctionId, GlobalId, ImportKind, Module, ValType};

use crate::{Form, Layout, PAGE};

pub const IMPORT_MODULE: &str = "multimem";
pub const EPHEMERAL_SIZE: &str = "ephemeral_size";
pub const EPHEMERAL_GROW: &str = "ephemeral_grow";
pub const PROOF_ACTIVE: &str = "proof_active";
pub const SPLIT: &str = "split";

/// Every export multimem adds starts with this; an input module may not use it.
pub const RESERVED_EXPORT_PREFIX: &str = "multimem.";
pub const EXPORT_PERSISTENT_MEMORY: &str = "multimem.persistent_memory";
pub const EXPORT_EPHEMERAL_MEMORY: &str = "multimem.ephemeral_memory";
pub const EXPORT_PROOF_ACTIVE: &str = "multimem.proof_active";
/// A per-proof module's start function, which the host runs once at load.
pub const EXPORT_START: &str = "multimem.start";
pub const EXPORT_STACK_POINTER: &str = "multimem.stack_pointer";
pub const EXPORT_GLOBAL_PREFIX: &str = "multimem.global.";
/// A routed module's proof counter: the host adds one per proof, and the
/// ephemeral heap's layout alternates with its parity (see [`heap`]).
pub const EXPORT_PROOF_EPOCH: &str = "multimem.proof_epoch";
/// Custom section of a module transformed with escape checks: the function
/// of each instrumented store, one per line (line N is site N).
pub const ESCAPE_SITES_SECTION: &str = "multimem.escape_sites";

/// The ephemeral heap's header in memory 1, shared with the guest SDK.
pub mod heap {
    include!("heap_abi.rs");
}

/// Custom section that marks a transformed module and records its split.
pub const MARKER_SECTION: &str = "multimem";
/// Import name under which the recreate strategy (and `--import-persistent`) supplies memory 0.
pub const IMPORT_PERSISTENT_MEMORY: &str = "persistent_memory";
/// Import name under which `--import-ephemeral` takes memory 1 (next to memory 0's import module).
pub const IMPORT_EPHEMERAL_MEMORY: &str = "ephemeral_memory";
/// With `--import-persistent`: applies memory 0's data and runs the start
/// function; a host calls it once, on the first instance.
pub const EXPORT_INIT_PERSISTENT: &str = "multimem.init_persistent";
/// Custom section (JSON) describing what a host supplies and carries; see [`crate::host_section`].
pub const HOST_SECTION: &str = "multimem.host";

/// What an untransformed guest's host answers for each import: no memory 1, no proof.
pub fn untransformed_answer(name: &str, split: u32) -> Option<i32> {
    match name {
        EPHEMERAL_SIZE | PROOF_ACTIVE => Some(0),
        EPHEMERAL_GROW => Some(-1),
        SPLIT => Some(split as i32),
        _ => None,
    }
}

/// Replaces the guest's `multimem.*` imports by what they stand for; returns their names.
pub fn resolve_guest_imports(module: &mut Module, layout: &Layout, proof_active: GlobalId) -> Result<Vec<String>> {
    let imports: Vec<(String, ImportKind)> = module
        .imports
        .iter()
        .filter(|i| i.module == IMPORT_MODULE && !is_host_memory(&i.kind))
        .map(|i| (i.name.clone(), i.kind.clone()))
        .collect();
    let mut resolved = Vec::new();
    for (name, kind) in imports {
        let ImportKind::Function(func) = kind else {
            bail!("import {IMPORT_MODULE}.{name} must be a function");
        };
        resolve_one(module, layout, proof_active, &name, func).with_context(|| format!("guest import {IMPORT_MODULE}.{name}"))?;
        resolved.push(name);
    }
    Ok(resolved)
}

/// Memories a host supplies may be imported from module `multimem` too.
fn is_host_memory(kind: &ImportKind) -> bool {
    matches!(kind, ImportKind::Memory(_))
}

fn resolve_one(module: &mut Module, layout: &Layout, proof_active: GlobalId, name: &str, func: FunctionId) -> Result<()> {
    let ty = module.types.get(module.funcs.get(func).ty());
    let (params, results) = (ty.params().to_vec(), ty.results().to_vec());
    let expect = |p: &[ValType]| -> Result<()> {
        anyhow::ensure!(
            params == p && results == [ValType::I32],
            "has type {params:?} -> {results:?}, expected {p:?} -> [I32]"
        );
        Ok(())
    };
    let ephemeral = layout.ephemeral;
    // Pages of memory 1 that are not scratch: the view form's alias of memory 0.
    let below = if layout.form == Form::View { (layout.split as u64 / PAGE) as i32 } else { 0 };
    match name {
        EPHEMERAL_SIZE => {
            expect(&[])?;
            module.replace_imported_func(func, |(body, _)| {
                body.memory_size(ephemeral);
                if below != 0 {
                    body.i32_const(below).binop(BinaryOp::I32Sub);
                }
            })?;
        }
        EPHEMERAL_GROW if below != 0 => {
            expect(&[ValType::I32])?;
            let old = module.locals.add(ValType::I32);
            module.replace_imported_func(func, |(body, args)| {
                // -1 (failure) stays -1; a page count moves down by `below`.
                body.local_get(args[0]).memory_grow(ephemeral).local_tee(old);
                body.i32_const(below).binop(BinaryOp::I32Sub);
                body.i32_const(-1).local_get(old).i32_const(-1).binop(BinaryOp::I32Ne).select(None);
            })?;
        }
        EPHEMERAL_GROW => {
            expect(&[ValType::I32])?;
            module.replace_imported_func(func, |(body, args)| {
                body.local_get(args[0]).memory_grow(ephemeral);
            })?;
        }
        PROOF_ACTIVE => {
            expect(&[])?;
            module.replace_imported_func(func, |(body, _)| {
                body.global_get(proof_active);
            })?;
        }
        SPLIT => {
            expect(&[])?;
            let split = layout.split as i32;
            module.replace_imported_func(func, |(body, _)| {
                body.i32_const(split);
            })?;
        }
        _ => bail!("unknown multimem import (known: {EPHEMERAL_SIZE}, {EPHEMERAL_GROW}, {PROOF_ACTIVE}, {SPLIT})"),
    }
    Ok(())
}
