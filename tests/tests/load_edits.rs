//! What the host's edits at load cost (the per-proof module of the recreate
//! strategy): section by section as the runtime does them now, against a
//! walrus parse and emit of the same module as they were done before.
//! An on-demand benchmark (glibc's allocator, this test binary's):
//! `cargo test --workspace --test load_edits -- --ignored --nocapture`.

use std::time::Instant;

use multimem::reference::Guest;
use multimem_runtime::rss_bytes;
use multimem_transform::Form;

#[test]
#[ignore]
fn load_edits_without_walrus() -> anyhow::Result<()> {
    for guest in [Guest::Groth16, Guest::Halo2] {
        let wasm = guest.transformed(Form::Portable)?;
        // Sections first: a walrus run before would leave its freed heap for it to reuse.
        let (rss, start) = (rss_bytes(), Instant::now());
        let per_proof = multimem_transform::persistent_import::run(wasm, multimem_transform::persistent_import::Load { ephemeral_max_pages: Some(1024), ..Default::default() })?;
        let (sections_time, sections_rss) = (start.elapsed(), rss_bytes().saturating_sub(rss));
        let (rss, start) = (rss_bytes(), Instant::now());
        let mut module = walrus::ModuleConfig::new().parse(wasm)?;
        let emitted = module.emit_wasm();
        drop(module);
        let (walrus_time, walrus_rss) = (start.elapsed(), rss_bytes().saturating_sub(rss));
        println!(
            "{guest}: portable module {:.1} MB; per-proof module by sections {:.1} ms, RSS +{:.1} MiB; walrus parse+emit {:.1} ms, RSS +{:.1} MiB",
            wasm.len() as f64 / 1e6,
            sections_time.as_secs_f64() * 1e3,
            sections_rss as f64 / 1048576.0,
            walrus_time.as_secs_f64() * 1e3,
            walrus_rss as f64 / 1048576.0
        );
        assert!(per_proof.wasm.len() <= wasm.len() && !emitted.is_empty());
    }
    Ok(())
}

/// A 10+ MB module from the corpus (barretenberg, C++), compiled ahead and
/// mapped: `cargo test --workspace --test load_edits -- --ignored --nocapture`.
/// RSS here is this process's, after the compile: the mapped file's pages are what loading adds.
#[test]
#[ignore]
fn a_large_corpus_module_compiled_ahead_and_mapped() -> anyhow::Result<()> {
    use multimem_runtime::{Limits, Strategy};
    let entry = multimem_tests::corpus::CORPUS.iter().find(|e| e.name == "barretenberg_threads").unwrap();
    let wasm = multimem_tests::corpus::fetch(entry)?;
    let options = multimem_transform::Options { route: multimem_transform::Route::Off, ..Default::default() };
    let start = Instant::now();
    let portable = multimem_transform::transform(&wasm, &options)?;
    println!("{}: {:.1} MB, transformed in {:.1} s", entry.name, wasm.len() as f64 / 1e6, start.elapsed().as_secs_f64());
    for (strategy, module) in [(Strategy::Baseline, &wasm), (Strategy::Recreate, &portable)] {
        let engine = multimem_runtime::engine_for(strategy)?;
        let start = Instant::now();
        let artefact = match multimem_runtime::precompile(&engine, module, strategy, Limits::default()) {
            Ok(a) => a,
            Err(e) => {
                println!("{strategy}: {e:#}");
                continue;
            }
        };
        let compile = start.elapsed();
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{strategy}.cwasm", entry.name));
        std::fs::write(&path, &artefact)?;
        let (rss, start) = (rss_bytes(), Instant::now());
        // SAFETY: written just above by `precompile`; wasmtime reads the ELF at the start and ignores our payload.
        let mapped = unsafe { wasmtime::Module::deserialize_file(&engine, &path)? };
        println!(
            "{strategy}: compiled ahead in {:.1} s ({:.1} MB); mapped in {:.1} ms, RSS +{:.1} MiB",
            compile.as_secs_f64(),
            artefact.len() as f64 / 1e6,
            start.elapsed().as_secs_f64() * 1e3,
            rss_bytes().saturating_sub(rss) as f64 / 1048576.0
        );
        drop(mapped);
    }
    Ok(())
}
