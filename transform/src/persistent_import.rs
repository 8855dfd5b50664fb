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

use crate::abi::{EXPORT_INIT_PERSISTENT, IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY};
use crate::sections::{self, Edits};
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
}

/// `ephemeral_max_pages` caps memory 1's scratch (the caller's limit on one proof).
/// The code is copied as it is (no walrus module is built): hosts run this when they load.
pub fn run(transformed: &[u8], ephemeral_max_pages: Option<u64>) -> Result<PerProofModule> {
    let crate::Marker { split, form } = crate::marker(transformed).context("not a module transformed by multimem")?;
    let facts = sections::facts(transformed)?;
    if facts.has_start {
        bail!("module has a start function: the recreate strategy would run it again for every proof");
    }
    let [memory0, _] = facts.memories[..] else { bail!("a transformed module has exactly two memories") };
    let memory1_imported = facts.imported_memories > 1;
    ensure!(
        !memory1_imported && !sections::exports(&facts, EXPORT_INIT_PERSISTENT),
        "the module was transformed for a host that supplies its memories (--import-persistent, --import-ephemeral); transform it without them for this runtime"
    );
    let import = match (form, &facts.memory0_import) {
        (Form::View, Some(_)) => bail!("the view form needs memory 0 defined by the module, not imported"),
        (Form::View, None) => None,
        (Form::Portable, Some(import)) => Some(import.clone()),
        (Form::Portable, None) => Some((IMPORT_MODULE.to_string(), IMPORT_PERSISTENT_MEMORY.to_string())),
    };
    let cap = split as u64 / PAGE;
    let maximum = memory0.maximum.map_or(cap, |max| max.min(cap));
    // In the view form memory 1's pages below the split are memory 0's.
    let below = if form == Form::View { split as u64 / PAGE } else { 0 };
    let mut edit = |index: u32, ty: &mut wasm_encoder::MemoryType| {
        match (index, ephemeral_max_pages) {
            (0, _) => {
                ty.shared |= form == Form::Portable;
                ty.maximum = Some(maximum);
            }
            (1, Some(max)) => sections::cap(ty, below + max),
            _ => {}
        }
        Ok(())
    };
    let import_memory0 = import.as_ref().map(|(m, n)| (m.as_str(), n.as_str()));
    let (wasm, data) = sections::rewrite(transformed, Edits { memory: &mut edit, import_memory0, take_data: true })?;
    Ok(PerProofModule { wasm, memory0_import: import, memory0_initial_pages: memory0.minimum, memory0_maximum_pages: maximum, data, split, form })
}
