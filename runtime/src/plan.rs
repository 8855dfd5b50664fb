//! What a strategy compiles and how it sets memory 0 up: the work
//! [`crate::Prover::load`] does before compiling, and what
//! [`crate::precompile`] does ahead of time and writes next to the code.

use anyhow::{bail, ensure, Context, Result};

use multimem_transform::persistent_import;

use crate::{Limits, Strategy};

/// A module prepared for one strategy and one set of memory limits.
pub(crate) struct Plan {
    /// The module to compile.
    pub(crate) wasm: Vec<u8>,
    pub(crate) layout: Layout,
}

/// Everything but the code: what the runtime needs to run the compiled module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The split of a transformed module.
    pub(crate) split: Option<u32>,
    pub(crate) memory0: Memory0Plan,
    /// The module's start function, exported under this name: run once against memory 0 at load.
    pub(crate) start: Option<String>,
}

/// How memory 0 comes to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Memory0Plan {
    /// Recreate: a shared memory the host creates, imported as `(module, name)` by every per-proof instance.
    Shared { import: (String, String), initial_pages: u64, maximum_pages: u64, data: Vec<(u32, Vec<u8>)> },
    /// The view strategies and fork: memfd pages every instance maps.
    View { initial_pages: u64, data: Vec<(u32, Vec<u8>)> },
    /// In place and baseline: the single instance's own memory.
    Own,
}

/// Memory limits in pages, as they are compiled into the module.
pub(crate) fn limit_pages(limits: &Limits) -> (Option<u64>, Option<u64>) {
    let pages = |bytes: Option<u64>| bytes.map(|b| b / multimem_transform::PAGE);
    (pages(limits.memory0_max_bytes), pages(limits.memory1_max_bytes))
}

impl Plan {
    /// Checks that `wasm` is the module `strategy` runs and prepares it.
    /// The fork strategy also takes the module as shipped and transforms it
    /// itself (view form, nothing routed).
    pub(crate) fn new(wasm: &[u8], strategy: Strategy, limits: &Limits) -> Result<Plan> {
        crate::checks::is_core_module(wasm)?;
        let transformed;
        let wasm = match (strategy, multimem_transform::transformed_split(wasm)) {
            (Strategy::Fork, None) => {
                let options = multimem_transform::Options { form: multimem_transform::Form::View, ..Default::default() };
                transformed = multimem_transform::transform(wasm, &options).context("transforming the module for the fork strategy")?;
                &transformed[..]
            }
            _ => wasm,
        };
        let split = multimem_transform::transformed_split(wasm);
        match (strategy.transformed(), split) {
            (true, None) => {
                // A marker cut off with the module's end is a damaged module, not an untransformed one.
                multimem_transform::validate(wasm)?;
                bail!("strategy {} needs a module transformed by `multimem transform`", strategy.name())
            }
            (false, Some(_)) => bail!("the baseline strategy runs the untransformed module; this one is transformed"),
            _ => {}
        }
        if let Some(form) = strategy.form() {
            let marked = multimem_transform::marker(wasm).map(|m| m.form);
            ensure!(
                marked == Some(form),
                "strategy {} runs the {} form; this module was transformed in the {} form",
                strategy.name(),
                form.name(),
                marked.map_or("?", |f| f.name())
            );
        }
        if strategy.transformed() {
            crate::checks::split_agrees(wasm)?;
        }
        let (memory0_max, memory1_max) = limit_pages(limits);
        // One pass over the sections for every load-time edit.
        let load = persistent_import::Load { persistent_max_pages: memory0_max, ephemeral_max_pages: memory1_max, memory0_exports_to_view: false };
        let (wasm, memory0, start) = match strategy {
            Strategy::Recreate => {
                let per_proof = persistent_import::run(wasm, load).context("the recreate strategy cannot run this module")?;
                let import = per_proof.memory0_import.ok_or_else(|| anyhow::anyhow!("the portable form imports memory 0"))?;
                let maximum_pages = per_proof.memory0_maximum_pages;
                let memory0 = Memory0Plan::Shared { import, initial_pages: per_proof.memory0_initial_pages, maximum_pages, data: per_proof.data };
                (per_proof.wasm, memory0, per_proof.start)
            }
            Strategy::View | Strategy::PrivateView | Strategy::Fork => {
                let load = persistent_import::Load { memory0_exports_to_view: strategy == Strategy::Fork, ..load };
                let per_proof = persistent_import::run(wasm, load).with_context(|| format!("the {strategy} strategy cannot run this module"))?;
                (per_proof.wasm, Memory0Plan::View { initial_pages: per_proof.memory0_initial_pages, data: per_proof.data }, per_proof.start)
            }
            Strategy::InPlace | Strategy::Baseline => {
                ensure!(
                    strategy == Strategy::Baseline || !multimem_transform::host_section::read(wasm).is_some_and(|h| h.shared),
                    "the in-place strategy does not run threaded modules (shared memories): giving memory 1's pages back would race the module's threads; use recreate"
                );
                let mut wasm = wasm.to_vec();
                for (index, max) in [(0, memory0_max), (1, memory1_max.filter(|_| strategy.transformed()))] {
                    if let Some(max) = max {
                        wasm = multimem_transform::limit_memory::run(&wasm, index, max)?;
                    }
                }
                (wasm, Memory0Plan::Own, None)
            }
        };
        Ok(Plan { wasm, layout: Layout { split, memory0, start } })
    }
}
