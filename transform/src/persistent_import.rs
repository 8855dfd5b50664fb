//! Prepare a transformed module for the recreate strategy: one instance per
//! proof, all sharing one memory 0.
//!
//! Memory 0's active data segments become passive: the host applies them
//! once, not at every instantiation, which would reset the statics the prover
//! keeps its state in. In the portable form memory 0 becomes an imported
//! shared memory (the one kind of wasmtime memory several Stores can share).
//! In the view form it stays defined: the host's memory creator hands every
//! instance the same pages. Either way memory 0's maximum is capped at the
//! split here, on the host's side: the transformed module keeps its original
//! limits so that other hosts can still supply the memory they always did.

use anyhow::{bail, ensure, Context, Result};
use walrus::ir::Value;
use walrus::{ConstExpr, DataKind, ImportKind};

use crate::abi::{EXPORT_INIT_PERSISTENT, EXPORT_START, IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY};
use crate::{Form, PAGE};

/// A module ready to be instantiated once per proof.
pub struct PerProofModule {
    pub wasm: Vec<u8>,
    /// Where the module imports memory 0 from (the portable form; the view form defines it).
    pub memory0_import: Option<(String, String)>,
    pub memory0_initial_pages: u64,
    pub memory0_maximum_pages: u64,
    /// Memory 0's initial contents: (offset, bytes), to apply once.
    pub data: Vec<(u32, Vec<u8>)>,
    pub split: u32,
    pub form: Form,
    /// The module's start function, exported under this name for the host to run once.
    pub start: Option<String>,
}

/// `ephemeral_max_pages` caps memory 1's scratch (the caller's limit on one proof).
pub fn run(transformed: &[u8], ephemeral_max_pages: Option<u64>) -> Result<PerProofModule> {
    let crate::Marker { split, form } = crate::marker(transformed).context("not a module transformed by multimem")?;
    let mut module = crate::parse(transformed)?;
    // Run once by the host against memory 0, never per instance.
    let start = module.start.take().map(|func| {
        module.exports.add(EXPORT_START, func);
        EXPORT_START.to_string()
    });
    let ids: Vec<_> = module.memories.iter().map(|m| m.id()).collect();
    let [memory0, memory1] = ids[..] else { bail!("a transformed module has exactly two memories") };
    ensure!(
        module.memories.get(memory1).import.is_none() && module.exports.iter().all(|e| e.name != EXPORT_INIT_PERSISTENT),
        "the module was transformed for a host that supplies its memories (--import-persistent, --import-ephemeral); transform it without them for this runtime"
    );

    let mut data = Vec::new();
    let segments: Vec<_> = module.data.iter().map(|d| d.id()).collect();
    for id in segments {
        let segment = module.data.get_mut(id);
        let DataKind::Active { memory, offset } = &segment.kind else { continue };
        ensure!(*memory == memory0, "data segment for memory 1 in a transformed module");
        let ConstExpr::Value(Value::I32(offset)) = offset else {
            bail!("a data segment of memory 0 has a computed offset; memory 0's contents are written once, before any instance, so offsets must be constants")
        };
        data.push((*offset as u32, segment.value.clone()));
        segment.kind = DataKind::Passive;
        segment.value.clear();
    }
    module.memories.get_mut(memory0).data_segments.clear();

    let import = match (form, module.memories.get(memory0).import) {
        // The host's memory creator hands every instance memory 0's pages: defined here, whatever the module imported.
        (Form::View, Some(import)) => {
            module.imports.delete(import);
            module.memories.get_mut(memory0).import = None;
            None
        }
        (Form::View, None) => None,
        (Form::Portable, Some(import)) => {
            let i = module.imports.get(import);
            Some((i.module.clone(), i.name.clone()))
        }
        (Form::Portable, None) => {
            let import = module.imports.add(IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY, ImportKind::Memory(memory0));
            module.memories.get_mut(memory0).import = Some(import);
            Some((IMPORT_MODULE.to_string(), IMPORT_PERSISTENT_MEMORY.to_string()))
        }
    };
    // Memory 1 belongs to one instance: never shared (the pool cannot hold a
    // defined shared memory). In the view form memory 0 is not shared either:
    // several Stores see it through the memfd.
    module.memories.get_mut(memory1).shared = false;
    let m0 = module.memories.get_mut(memory0);
    m0.shared = form == Form::Portable;
    let cap = split as u64 / PAGE;
    let maximum = m0.maximum.map_or(cap, |max| max.min(cap));
    m0.maximum = Some(maximum);
    let initial = m0.initial;
    if let Some(max) = ephemeral_max_pages {
        // In the view form memory 1's pages below the split are memory 0's.
        let below = if form == Form::View { split as u64 / PAGE } else { 0 };
        crate::limit_memory::cap(&mut module, 1, below + max)?;
    }
    Ok(PerProofModule {
        wasm: module.emit_wasm(),
        memory0_import: import,
        memory0_initial_pages: initial,
        memory0_maximum_pages: maximum,
        data,
        split,
        form,
        start,
    })
}
