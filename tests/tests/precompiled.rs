//! Precompiled provers (`multimem compile`, `Prover::load_precompiled`): the
//! same proofs as the compiled prover, byte for byte, and a clear refusal of
//! an artefact made for another strategy, other limits, another engine
//! configuration, or one that was damaged.

use std::path::{Path, PathBuf};

use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Strategy};
use wasmtime::{Config, Engine, OptLevel};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("precompiled");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `guest` compiled ahead for `strategy`, from the module the compiled prover runs
/// (transformed once per process; the CLI's test has `multimem compile` transform).
fn artefact(guest: Guest, strategy: Strategy, limits: Limits) -> anyhow::Result<PathBuf> {
    let engine = multimem_runtime::engine_for(strategy)?;
    let path = scratch(&format!("{guest}-{strategy}-{:?}.cwasm", limits.memory1_max_bytes));
    std::fs::write(&path, multimem_runtime::precompile(&engine, guest.module_for(strategy)?, strategy, limits)?)?;
    Ok(path)
}

fn load(engine: &Engine, guest: Guest, path: &Path, strategy: Strategy, limits: Limits) -> anyhow::Result<Reference> {
    // SAFETY: the file was written by `compile` above and nothing rewrites it.
    unsafe { Reference::load_precompiled(engine, guest, path, strategy, limits) }
}

fn two_proofs(mut r: Reference, size: u32) -> anyhow::Result<Vec<Vec<u8>>> {
    r.setup(size)?;
    let proofs = [5, 6].map(|seed| r.prove(seed).0.map(|p| p.bytes)).into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    assert!(r.verify(&proofs[0])?);
    Ok(proofs)
}

fn same_proofs(guest: Guest, strategies: &[Strategy], size: u32) -> anyhow::Result<()> {
    for &strategy in strategies {
        let path = artefact(guest, strategy, Limits::default())?;
        let engine = multimem_runtime::engine_for(strategy)?;
        let precompiled = two_proofs(load(&engine, guest, &path, strategy, Limits::default())?, size)?;
        let compiled = two_proofs(Reference::load_guest(&engine, guest, strategy, Limits::default())?, size)?;
        assert_eq!(precompiled, compiled, "{guest} under {strategy}: the precompiled prover proves other bytes");
    }
    Ok(())
}

#[test]
fn a_precompiled_reference_prover_proves_the_same_bytes() -> anyhow::Result<()> {
    same_proofs(Guest::Groth16, &[Strategy::Recreate, Strategy::InPlace, Strategy::View], 1 << 10)
}

#[test]
fn a_precompiled_halo2_proves_the_same_bytes() -> anyhow::Result<()> {
    same_proofs(Guest::Halo2, &[Strategy::Recreate], 1 << 8)
}

/// The error of loading `path` as `strategy` with `limits` on `engine`, as one line.
fn refusal(engine: &Engine, path: &Path, strategy: Strategy, limits: Limits) -> String {
    match load(engine, Guest::Groth16, path, strategy, limits) {
        Ok(_) => panic!("{} loaded as {strategy}", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_refused(error: &str, reason: &str) {
    assert!(error.contains(reason), "expected {reason:?} in {error:?}");
    assert!(!error.contains('\n'), "one line expected: {error:?}");
}

/// An engine configured like the runtime's (so that the baseline runs on it) but for `tweak`.
fn engine_with(tweak: impl FnOnce(&mut Config)) -> Engine {
    let mut config = Config::new();
    config.shared_memory(true).wasm_multi_memory(true).wasm_threads(true).epoch_interruption(true);
    tweak(&mut config);
    Engine::new(&config).unwrap()
}

#[test]
fn an_artefact_for_another_strategy_or_limits_is_refused() -> anyhow::Result<()> {
    let recreate = artefact(Guest::Groth16, Strategy::Recreate, Limits::default())?;
    let engine = multimem_runtime::engine()?;
    assert_refused(&refusal(&engine, &recreate, Strategy::InPlace, Limits::default()), "compiled for strategy recreate, not in-place");
    let view_engine = multimem_runtime::engine_for(Strategy::View)?;
    assert_refused(&refusal(&view_engine, &recreate, Strategy::View, Limits::default()), "compiled for strategy recreate, not view");
    let capped = Limits { memory1_max_bytes: Some(64 << 20), ..Limits::default() };
    assert_refused(&refusal(&engine, &recreate, Strategy::Recreate, capped), "compiled with memory 1 capped at none, not 64 MiB");

    // Compiled with the cap, it loads with the cap and proves.
    let path = artefact(Guest::Groth16, Strategy::Recreate, capped)?;
    let mut r = load(&engine, Guest::Groth16, &path, Strategy::Recreate, capped)?;
    r.setup(1 << 8)?;
    assert!(r.prove(1).0.is_ok());
    Ok(())
}

#[test]
fn an_artefact_for_another_engine_configuration_is_refused() -> anyhow::Result<()> {
    let path = scratch("baseline-plain-engine.cwasm");
    std::fs::write(&path, multimem_runtime::precompile(&engine_with(|_| {}), Guest::Groth16.wasm(), Strategy::Baseline, Limits::default())?)?;
    // An engine of the configuration it was compiled for (another instance of it) loads it.
    load(&engine_with(|_| {}), Guest::Groth16, &path, Strategy::Baseline, Limits::default())?;
    let other_engines = [
        engine_with(|c| {
            c.cranelift_opt_level(OptLevel::None);
        }),
        engine_with(|c| {
            c.memory_guard_size(1 << 16);
        }),
        engine_with(|c| {
            c.epoch_interruption(false);
        }),
    ];
    for engine in &other_engines {
        assert_refused(&refusal(engine, &path, Strategy::Baseline, Limits::default()), "compiled for another engine configuration or wasmtime version");
    }
    Ok(())
}

#[test]
fn a_damaged_file_or_another_file_is_refused() -> anyhow::Result<()> {
    let path = artefact(Guest::Groth16, Strategy::Baseline, Limits::default())?;
    let bytes = std::fs::read(&path)?;
    let engine = multimem_runtime::engine()?;
    let written = |name: &str, bytes: &[u8]| {
        let p = scratch(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x10;
    assert_refused(&refusal(&engine, &written("flipped.cwasm", &flipped), Strategy::Baseline, Limits::default()), "is damaged (compile it again): its checksum does not match");
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    cut.extend_from_slice(&bytes[bytes.len() - 32..]);
    assert_refused(&refusal(&engine, &written("cut.cwasm", &cut), Strategy::Baseline, Limits::default()), "its length does not match");
    assert_refused(&refusal(&engine, &written("head.cwasm", &bytes[..bytes.len() - 1]), Strategy::Baseline, Limits::default()), "is not a precompiled prover");
    // wasmtime's own artefact, without multimem's payload.
    let plain = engine.precompile_module(Guest::Groth16.wasm())?;
    assert_refused(&refusal(&engine, &written("plain.cwasm", &plain), Strategy::Baseline, Limits::default()), "is not a precompiled prover");
    assert_refused(&refusal(&engine, &written("module.wasm", Guest::Groth16.wasm()), Strategy::Baseline, Limits::default()), "is not a precompiled prover");
    assert_refused(&refusal(&engine, &scratch("missing.cwasm"), Strategy::Baseline, Limits::default()), "opening");
    Ok(())
}
