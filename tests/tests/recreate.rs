//! End to end under the recreate strategy: guest → transform → prove → verify.
//! Alone in its binary so that RSS is this test's own.

use multimem::reference::Reference;
use multimem_runtime::{rss_bytes, Limits, Strategy};

#[test]
fn twenty_proofs_verify_and_memory_stays_flat() -> anyhow::Result<()> {
    let engine = multimem_runtime::engine()?;
    let mut reference = Reference::load(&engine, Strategy::Recreate, Limits::default())?;
    reference.setup(1 << 12)?;
    // Warm the verifier's memory-0 state once, as any caller does before proving.
    let rss_after_setup = rss_bytes();
    let mut memory0 = Vec::new();
    let mut last_rss = 0;
    for seed in 1..=20 {
        let (proof, metrics) = reference.prove(seed);
        let proof = proof?;
        assert!(reference.verify(&proof.bytes)?, "proof {seed} does not verify");
        assert!(metrics.memory1_peak_pages > 0, "the proof ran in memory 1");
        assert!(
            proof.ephemeral_high_water as f64 <= 1.25 * proof.ephemeral_peak_live as f64 + 64.0 * 1024.0,
            "memory 1 high water {} vs peak live {}",
            proof.ephemeral_high_water,
            proof.ephemeral_peak_live
        );
        memory0.push(metrics.memory0_pages);
        last_rss = metrics.rss_bytes;
    }
    assert_eq!(memory0[0], memory0[19], "memory 0 pages per proof: {memory0:?}");
    let ratio = last_rss as f64 / rss_after_setup as f64;
    assert!((0.9..=1.1).contains(&ratio), "RSS after setup {rss_after_setup}, after the last drop {last_rss}");
    Ok(())
}
