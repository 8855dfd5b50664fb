//! The guests without the SDK (halo2 built unmodified, Groth16 with std's
//! allocator) under the baseline and recreate: setup, proofs that verify,
//! the same bytes for the same seed under both, a trap part-way that the
//! next proof survives.

use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Strategy};

/// Small circuits that still run every stage of the prover: 2^8 rows for halo2, 2^8 constraints for Groth16.
const SIZE: u32 = 1 << 8;

/// Proofs of seeds 1..=3 under `strategy`, each checked; then a failing proof and one after it.
fn prove_three(guest: Guest, strategy: Strategy) -> anyhow::Result<Vec<Vec<u8>>> {
    let engine = multimem_runtime::engine_for(strategy)?;
    let mut prover = Reference::load_guest(&engine, guest, strategy, Limits::default())?;
    prover.setup(SIZE)?;
    let mut proofs = Vec::new();
    for seed in 1..=3 {
        let (proof, metrics) = prover.prove(seed);
        let proof = proof?;
        assert!(prover.verify(&proof.bytes)?, "{guest} under {strategy}: proof {seed} does not verify");
        // Nothing routes a guest without the SDK to memory 1 yet.
        eprintln!("{guest} under {strategy}: proof {seed}, memory 0 {} pages, memory 1 peak {} pages", metrics.memory0_pages, metrics.memory1_peak_pages);
        proofs.push(proof.bytes);
    }
    let mut tampered = proofs[0].clone();
    tampered[40] ^= 1;
    assert!(!prover.verify(&tampered).unwrap_or(false), "{guest} under {strategy}: a tampered proof verifies");

    prover.set_fail(true)?;
    let (failed, _) = prover.prove(4);
    let error = failed.err().map(|e| format!("{e:#}"));
    assert!(error.as_deref().is_some_and(|e| e.contains("unreachable")), "{guest} under {strategy}: the failing proof gave {error:?}");
    prover.set_fail(false)?;
    let after = prover.prove(5).0?;
    assert!(prover.verify(&after.bytes)?, "{guest} under {strategy}: the proof after a trap does not verify");
    Ok(proofs)
}

fn baseline_and_recreate_agree(guest: Guest) -> anyhow::Result<()> {
    let baseline = prove_three(guest, Strategy::Baseline)?;
    let recreate = prove_three(guest, Strategy::Recreate)?;
    assert_eq!(baseline, recreate, "{guest}: recreate's proofs differ from the baseline's");
    assert_ne!(baseline[0], baseline[1], "{guest}: different seeds, same proof");
    Ok(())
}

#[test]
fn halo2_proves_under_baseline_and_recreate() -> anyhow::Result<()> {
    baseline_and_recreate_agree(Guest::Halo2)
}

#[test]
fn groth16_without_sdk_proves_under_baseline_and_recreate() -> anyhow::Result<()> {
    baseline_and_recreate_agree(Guest::Groth16NoSdk)
}

#[test]
fn groth16_proofs_are_the_same_with_and_without_the_sdk() -> anyhow::Result<()> {
    let engine = multimem_runtime::engine_for(Strategy::Baseline)?;
    let mut proofs = Vec::new();
    for guest in [Guest::Groth16, Guest::Groth16NoSdk] {
        let mut prover = Reference::load_guest(&engine, guest, Strategy::Baseline, Limits::default())?;
        prover.setup(SIZE)?;
        proofs.push(prover.prove(9).0?.bytes);
    }
    assert_eq!(proofs[0], proofs[1]);
    Ok(())
}

/// Module names a guest imports from.
fn import_modules(wasm: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut modules = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            for import in reader.into_imports() {
                modules.push(import?.module.to_owned());
            }
        }
    }
    Ok(modules)
}

#[test]
fn only_the_sdk_guest_imports_anything() -> anyhow::Result<()> {
    assert!(import_modules(Guest::Groth16.wasm())?.iter().all(|m| m == "multimem"));
    assert!(!import_modules(Guest::Groth16.wasm())?.is_empty());
    assert_eq!(import_modules(Guest::Groth16NoSdk.wasm())?, Vec::<String>::new());
    assert_eq!(import_modules(Guest::Halo2.wasm())?, Vec::<String>::new());
    Ok(())
}

#[test]
fn halo2_sizes_are_powers_of_two() {
    assert_eq!(Guest::Halo2.setup_arg(1024).unwrap(), 10);
    assert!(Guest::Halo2.setup_arg(1000).is_err());
    assert_eq!(Guest::Groth16.setup_arg(1000).unwrap(), 1000);
}
