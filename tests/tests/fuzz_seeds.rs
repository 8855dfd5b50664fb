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
