//! Step 2: add the ephemeral memory.
//!
//! Memory 0 keeps its declared limits, so the output accepts every memory
//! the original accepted; [`crate::persistent_grow`] stops it at the split.
//!
//! In the view form memory 1 spans the whole 32-bit space and starts at the
//! split: its range below the split is where the host maps memory 0.

use anyhow::{Context, Result};
use walrus::Module;

use crate::{Form, Layout, PAGE};

pub fn run(module: &mut Module, split: u32, form: Form) -> Result<Layout> {
    let persistent = module.memories.iter().next().map(|m| m.id()).context("module has no memory")?;
    let persistent_cap = split as u64 / PAGE;
    let ephemeral_cap = ((1u64 << 32) - split as u64) / PAGE;

    let memory0 = module.memories.get(persistent);
    anyhow::ensure!(
        memory0.initial <= persistent_cap,
        "memory 0 starts at {} pages, above the split ({persistent_cap} pages): choose a higher --split",
        memory0.initial
    );
    let shared = memory0.shared;

    let (initial, maximum) = match form {
        Form::Portable => (0, ephemeral_cap),
        Form::View => (persistent_cap, (1u64 << 32) / PAGE),
    };
    let ephemeral = module.memories.add_local(shared, false, initial, Some(maximum), None);
    module.memories.get_mut(ephemeral).name = Some("multimem_ephemeral".to_string());
    Ok(Layout { split, form, persistent, ephemeral, shared })
}
