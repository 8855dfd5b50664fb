//! Cap a memory's maximum: a caller's limit on memory 1 (one proof's scratch)
//! or on memory 0 (how far a prover may grow before it fails).

use anyhow::Result;

/// Lowers the maximum of memory `index` to `max_pages` (never raises it).
/// The code is copied as it is (no walrus module is built): hosts run this when they load.
pub fn run(wasm: &[u8], index: usize, max_pages: u64) -> Result<Vec<u8>> {
    crate::sections::has_memory(&crate::sections::facts(wasm)?, index)?;
    let mut edit = |i: u32, ty: &mut wasm_encoder::MemoryType| {
        if i as usize == index {
            crate::sections::cap(ty, max_pages);
        }
        Ok(())
    };
    let edits = crate::sections::Edits { memory: &mut edit, import_memory0: None, define_memory0: false, start_as_export: None, take_data: false, memory0_exports_to: None };
    Ok(crate::sections::rewrite(wasm, edits)?.0)
}
