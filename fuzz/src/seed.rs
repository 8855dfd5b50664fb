//! Seeds the fuzz corpora from the project's fixtures and the real-world corpus:
//!
//!     cargo +nightly run --manifest-path fuzz/Cargo.toml --bin seed
fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("../transform/tests/fixtures");
    let corpus = root.join("corpus/transform");
    std::fs::create_dir_all(&corpus)?;
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let input = text.split("(; ").next().unwrap_or_default();
        if let Ok(wasm) = wat::parse_str(input) {
            std::fs::write(corpus.join(path.file_stem().unwrap()).with_extension("wasm"), wasm)?;
            n += 1;
        }
    }
    for entry in multimem_tests::corpus::CORPUS {
        // Large modules slow libFuzzer down; the small ones make good seeds.
        let wasm = multimem_tests::corpus::fetch(entry)?;
        if wasm.len() < 4 << 20 {
            std::fs::write(corpus.join(entry.name).with_extension("wasm"), wasm)?;
            n += 1;
        }
    }
    println!("{n} seeds in {}", corpus.display());
    Ok(())
}
