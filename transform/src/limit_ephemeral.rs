//! Cap memory 1 of a transformed module: the caller's limit on one proof's scratch.

use anyhow::{bail, Context, Result};
use walrus::Module;

/// Lowers memory 1's maximum to `max_pages` (never raises it).
pub fn run(transformed: &[u8], max_pages: u64) -> Result<Vec<u8>> {
    crate::transformed_split(transformed).context("not a module transformed by multimem")?;
    let mut module = crate::parse(transformed)?;
    cap(&mut module, max_pages)?;
    Ok(module.emit_wasm())
}

pub(crate) fn cap(module: &mut Module, max_pages: u64) -> Result<()> {
    let Some(memory1) = module.memories.iter_mut().nth(1) else { bail!("a transformed module has two memories") };
    memory1.maximum = Some(memory1.maximum.map_or(max_pages, |m| m.min(max_pages)));
    Ok(())
}
