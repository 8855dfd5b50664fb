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

use crate::abi::{EXPORT_INIT_PERSISTENT, EXPORT_START, IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY};
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
    /// The module's start function, exported under this name for the host to run once.
    pub start: Option<String>,
}

/// What the host asks of the module it loads, done in the same one pass over
/// its sections as the per-proof layout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    /// Caps memory 0 (the caller's limit on persistent memory; the split caps it anyway).
    pub persistent_max_pages: Option<u64>,
    /// Caps memory 1's scratch (the caller's limit on one proof).
    pub ephemeral_max_pages: Option<u64>,
    /// The fork strategy (view form only): the module's exports of memory 0
    /// name the view instead (see [`crate::fork_exports`]).
    pub memory0_exports_to_view: bool,
}

/// The code is copied as it is (no walrus module is built): hosts run this when they load.
pub fn run(transformed: &[u8], load: Load) -> Result<PerProofModule> {
    let crate::Marker { split, form } = crate::marker(transformed).context("not a module transformed by multimem")?;
    let facts = sections::facts(transformed)?;
    let [memory0, _] = facts.memories[..] else { bail!("a transformed module has exactly two memories") };
    let memory1_imported = facts.imported_memories > 1;
    ensure!(
        !memory1_imported && !sections::exports(&facts, EXPORT_INIT_PERSISTENT),
        "the module was transformed for a host that supplies its memories (--import-persistent, --import-ephemeral); transform it without them for this runtime"
    );
    // Run once by the host against memory 0, never per instance.
    let start = facts.start.map(|_| EXPORT_START.to_string());
    let import = match (form, &facts.memory0_import) {
        // The host's memory creator hands every instance memory 0's pages: defined here, whatever the module imported.
        (Form::View, _) => None,
        (Form::Portable, Some(import)) => Some(import.clone()),
        (Form::Portable, None) => Some((IMPORT_MODULE.to_string(), IMPORT_PERSISTENT_MEMORY.to_string())),
    };
    let cap = (split as u64 / PAGE).min(load.persistent_max_pages.unwrap_or(u64::MAX));
    let maximum = memory0.maximum.map_or(cap, |max| max.min(cap));
    let memory0_exports_to = match (load.memory0_exports_to_view, form) {
        (false, _) => None,
        (true, Form::View) => Some(crate::fork_exports::target(&facts)?),
        (true, Form::Portable) => bail!("only a view-form module can export its view as memory 0"),
    };
    // In the view form memory 1's pages below the split are memory 0's.
    let below = if form == Form::View { split as u64 / PAGE } else { 0 };
    let mut edit = |index: u32, ty: &mut wasm_encoder::MemoryType| {
        match index {
            // Shared in the portable form: the one kind of wasmtime memory several Stores can
            // share. In the view form several Stores see it through the memfd instead.
            0 => {
                ty.shared = form == Form::Portable;
                ty.maximum = Some(maximum);
            }
            // Memory 1 belongs to one instance: never shared (the pool cannot hold a defined shared memory).
            _ => {
                ty.shared = false;
                if let Some(max) = load.ephemeral_max_pages {
                    sections::cap(ty, below + max);
                }
            }
        }
        Ok(())
    };
    let import_memory0 = import.as_ref().map(|(m, n)| (m.as_str(), n.as_str()));
    let edits = Edits { memory: &mut edit, import_memory0, define_memory0: form == Form::View, start_as_export: start.as_deref(), take_data: true, memory0_exports_to };
    let (wasm, data) = sections::rewrite(transformed, edits)?;
    Ok(PerProofModule { wasm, memory0_import: import, memory0_initial_pages: memory0.minimum, memory0_maximum_pages: maximum, data, split, form, start })
}
