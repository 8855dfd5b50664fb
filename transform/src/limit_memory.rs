//! Cap a memory's maximum: a caller's limit on memory 1 (one proof's scratch)
//! or on memory 0 (how far a prover may grow before it fails).

use anyhow::{Context, Result};
use walrus::Module;

/// Lowers the maximum of memory `index` to `max_pages` (never raises it).
pub fn run(wasm: &[u8], index: usize, max_pages: u64) -> Result<Vec<u8>> {
    let mut module = crate::parse(wasm)?;
    cap(&mut module, index, max_pages)?;
    Ok(module.emit_wasm())
}

pub(crate) fn cap(module: &mut Module, index: usize, max_pages: u64) -> Result<()> {
    let memory = module.memories.iter_mut().nth(index).with_context(|| format!("the module has no memory {index}"))?;
    memory.maximum = Some(memory.maximum.map_or(max_pages, |m| m.min(max_pages)));
    Ok(())
}
