//! The reference prover untransformed (the baseline): 20 proofs that verify, and identical bytes across strategies.

use multimem::reference::Reference;
use multimem_runtime::{Limits, Strategy};

#[test]
fn untransformed_setup_and_twenty_proofs_verify() -> anyhow::Result<()> {
    let engine = multimem_runtime::engine()?;
    let mut reference = Reference::load(&engine, Strategy::Baseline, Limits::default())?;
    reference.setup(1 << 10)?;
    for seed in 1..=20 {
        let proof = reference.prove(seed).0?;
        assert!(reference.verify(&proof.bytes)?, "proof {seed}");
        assert_eq!(proof.ephemeral_peak_live, 0, "nothing goes to memory 1 untransformed");
    }
    let mut bad = reference.prove(99).0?.bytes;
    bad[40] ^= 1;
    assert!(!reference.verify(&bad).unwrap_or(false));
    Ok(())
}

#[test]
fn every_strategy_gives_byte_identical_proofs() -> anyhow::Result<()> {
    let mut proofs = Vec::new();
    for strategy in Strategy::ALL {
        let engine = multimem_runtime::engine_for(strategy)?;
        let mut reference = Reference::load(&engine, strategy, Limits::default())?;
        reference.setup(1 << 10)?;
        proofs.push((strategy, reference.prove(5).0?.bytes, reference.prove(6).0?.bytes));
    }
    for (strategy, a, b) in &proofs[1..] {
        assert_eq!((a, b), (&proofs[0].1, &proofs[0].2), "{strategy:?} differs from the baseline");
    }
    Ok(())
}
