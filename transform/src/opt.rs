//! Step 5 (optional): binaryen over the two-memory module, through the wasm-opt crate.

use anyhow::{bail, Context, Result};
use wasm_opt::{Feature, OptimizationOptions};

/// Optimisation settings for `level` ("0"–"4", "s", "z"), with the features a transformed module uses.
pub fn options(level: &str, shared: bool) -> Result<OptimizationOptions> {
    let mut opts = match level {
        "0" => OptimizationOptions::new_opt_level_0(),
        "1" => OptimizationOptions::new_opt_level_1(),
        "2" => OptimizationOptions::new_opt_level_2(),
        "3" => OptimizationOptions::new_opt_level_3(),
        "4" => OptimizationOptions::new_opt_level_4(),
        "s" => OptimizationOptions::new_optimize_for_size(),
        "z" => OptimizationOptions::new_optimize_for_size_aggressively(),
        other => bail!("unknown optimisation level {other:?} (expected 0, 1, 2, 3, 4, s or z)"),
    };
    for feature in [
        Feature::MultiMemory,
        Feature::BulkMemory,
        Feature::SignExt,
        Feature::TruncSat,
        Feature::MutableGlobals,
        Feature::Simd,
        Feature::ReferenceTypes,
        Feature::Multivalue,
        Feature::ExtendedConst,
    ] {
        opts.enable_feature(feature);
    }
    if shared {
        opts.enable_feature(Feature::Atomics);
    }
    // Names make traps and profiles readable; keep them.
    opts.debug_info(true);
    Ok(opts)
}

/// Runs binaryen at `level` over `wasm`.
pub fn run(wasm: &[u8], level: &str, shared: bool) -> Result<Vec<u8>> {
    run_with(wasm, &options(level, shared)?)
}

/// Reads and writes `wasm` with binaryen and no passes: the floor any binaryen step costs.
pub fn roundtrip(wasm: &[u8], shared: bool) -> Result<Vec<u8>> {
    let mut opts = options("0", shared)?;
    opts.passes.add_default_passes = false;
    run_with(wasm, &opts)
}

fn run_with(wasm: &[u8], opts: &OptimizationOptions) -> Result<Vec<u8>> {
    // The crate works on files; keep them private to this call.
    let dir = std::env::temp_dir().join(format!("multimem-opt-{}-{:p}", std::process::id(), wasm.as_ptr()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (input, output) = (dir.join("in.wasm"), dir.join("out.wasm"));
    let result = (|| {
        std::fs::write(&input, wasm)?;
        opts.run(&input, &output).map_err(|e| anyhow::anyhow!("binaryen failed: {e}"))?;
        Ok(std::fs::read(&output)?)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
