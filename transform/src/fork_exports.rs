//! A load-time edit for the fork strategy: the module's exports of memory 0
//! name its view (memory 1) instead.
//!
//! Under fork a proof's copy of memory 0 lives only in the view (copy-on-write,
//! at the same addresses below the split); memory 0 itself keeps just its size,
//! at an address of its own, since wasmtime requires an instance's memories
//! not to overlap. A host function that reaches guest memory through the
//! module's exported memory (`caller.get_export("memory")`, as WASI
//! implementations do) must therefore get the view. The runtime's own export
//! of memory 0, `multimem.persistent_memory`, stays: it gives memory 0's size.

use anyhow::{Context, Result};

use crate::abi::{EXPORT_EPHEMERAL_MEMORY, EXPORT_PERSISTENT_MEMORY};
use crate::sections::{self, Edits};

/// `wasm` (a view-form module) with memory 0's exports pointed at the view.
/// The runtime does the same within [`crate::persistent_import::run`]'s one pass.
pub fn run(wasm: &[u8]) -> Result<Vec<u8>> {
    let facts = sections::facts(wasm)?;
    let mut unchanged = |_: u32, _: &mut wasm_encoder::MemoryType| Ok(());
    let edits = Edits {
        memory: &mut unchanged,
        import_memory0: None,
        define_memory0: false,
        start_as_export: None,
        take_data: false,
        memory0_exports_to: Some(target(&facts)?),
    };
    Ok(sections::rewrite(wasm, edits)?.0)
}

/// The view's index, and the export of memory 0 that stays (the runtime's own).
pub(crate) fn target(facts: &sections::Facts) -> Result<(u32, &'static str)> {
    let view = facts
        .memory_exports
        .iter()
        .find(|(name, _)| name == EXPORT_EPHEMERAL_MEMORY)
        .map(|(_, index)| *index)
        .context("a view-form module exports its view")?;
    Ok((view, EXPORT_PERSISTENT_MEMORY))
}
