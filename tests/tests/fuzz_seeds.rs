//! Seeds the cargo-fuzz corpora from the project's fixtures and the small
//! modules of the real-world corpus. Not a check; run on demand:
//!
//!     cargo test -p multimem-tests --test fuzz_seeds -- --ignored

use std::path::Path;

#[test]
#[ignore = "writes fuzz/corpus; run on demand"]
fn seed_fuzz_corpora() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = root.join("fuzz/corpus/transform");
    std::fs::create_dir_all(&corpus)?;
    let mut seeds = 0;
    for entry in std::fs::read_dir(root.join("transform/tests/fixtures"))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let input = text.split("(; ").next().unwrap_or_default();
        if let Ok(wasm) = wat::parse_str(input) {
            std::fs::write(corpus.join(path.file_stem().unwrap()).with_extension("wasm"), wasm)?;
            seeds += 1;
        }
    }
    for entry in multimem_tests::corpus::CORPUS {
        // Large modules slow libFuzzer down; the small ones make good seeds.
        let wasm = multimem_tests::corpus::fetch(entry)?;
        if wasm.len() < 4 << 20 {
            std::fs::write(corpus.join(entry.name).with_extension("wasm"), wasm)?;
            seeds += 1;
        }
    }
    eprintln!("{seeds} seeds in {}", corpus.display());
    Ok(())
}

/// What sizes of module a campaign exercised: for each corpus entry of a
/// wasm-smith target (`differential`, `fork`, `transform_smith`) or of
/// `transform` (the bytes are the module), the module's functions and memory
/// instructions; prints the median and 90th percentile. Run after a campaign:
///
///     FUZZ_TARGET=fork cargo test --workspace --test fuzz_seeds -- --ignored corpus_module_sizes --nocapture
#[test]
#[ignore = "reads fuzz/corpus/$FUZZ_TARGET; run after a campaign"]
fn corpus_module_sizes() -> anyhow::Result<()> {
    use multimem_tests::{fork, smith};
    let target = std::env::var("FUZZ_TARGET").unwrap_or_else(|_| "fork".into());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(&target);
    let (mut functions, mut accesses) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(&dir)? {
        let data = std::fs::read(entry?.path())?;
        let wasm = match target.as_str() {
            "transform" => Some(data),
            "transform_smith" => smith::sized_module(smith::transformable(), &data),
            "differential" => smith::sized_module(smith::differential(), &data),
            "fork" => smith::sized_module(fork::config(), &data),
            other => anyhow::bail!("no module sizes for target `{other}`"),
        };
        if let Some((f, a)) = wasm.as_deref().and_then(|w| smith::sizes(w).ok()) {
            functions.push(f);
            accesses.push(a);
        }
    }
    let quantiles = |v: &mut Vec<usize>| {
        v.sort_unstable();
        let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0);
        (at(0.5), at(0.9))
    };
    let (f50, f90) = quantiles(&mut functions);
    let (a50, a90) = quantiles(&mut accesses);
    println!("{target}: {} modules; functions median {f50}, p90 {f90}; memory instructions median {a50}, p90 {a90}", functions.len());
    Ok(())
}
