//! Routing on provers nobody here wrote an allocator for: halo2 built
//! unmodified and Groth16 with std's allocator, transformed with routing
//! (the portable form routes by default) under recreate: proofs verify, the
//! same bytes as the baseline, proof-time allocations in memory 1 (memory 0
//! flat from the first proof on), the heap within 1.25x of peak live bytes
//! (plus a page), a trapped proof survived. The 100-proof runs are in
//! docs/notes-route.md.

use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Strategy};

const SIZE: u32 = 1 << 8;

fn routed(guest: Guest) -> anyhow::Result<()> {
    let engine = multimem_runtime::engine_for(Strategy::Baseline)?;
    let mut baseline = Reference::load_guest(&engine, guest, Strategy::Baseline, Limits::default())?;
    baseline.setup(SIZE)?;
    let engine = multimem_runtime::engine_for(Strategy::Recreate)?;
    let mut routed = Reference::load_guest(&engine, guest, Strategy::Recreate, Limits::default())?;
    routed.setup(SIZE)?;
    let mut memory0 = None;
    for seed in 1..=4 {
        let expected = baseline.prove(seed).0?;
        let (proof, metrics) = routed.prove(seed);
        let proof = proof?;
        assert_eq!(proof.bytes, expected.bytes, "{guest}: proof {seed} differs from the baseline's");
        assert!(routed.verify(&proof.bytes)?, "{guest}: proof {seed} does not verify");
        let heap = metrics.heap.unwrap_or_else(|| panic!("{guest}: proof {seed} allocated nothing in memory 1"));
        assert_eq!(heap.kind, multimem_transform::abi::heap::HEAP_KIND_ROUTED);
        assert!(
            heap.high_water as f64 <= 1.25 * heap.peak_live as f64 + 65536.0,
            "{guest}: heap spans {} bytes for {} peak live",
            heap.high_water,
            heap.peak_live
        );
        // Verifying (outside a proof, in memory 0) may grow memory 0 once,
        // after the first proof's figures were taken; from then on it stays.
        match memory0 {
            None if seed == 1 => {}
            None => memory0 = Some(metrics.memory0_pages),
            Some(pages) => assert_eq!(metrics.memory0_pages, pages, "{guest}: memory 0 grew in proof {seed}"),
        }
    }
    routed.set_fail(true)?;
    assert!(routed.prove(9).0.is_err(), "{guest}: the failing proof succeeded");
    routed.set_fail(false)?;
    let after = routed.prove(10).0?;
    assert!(routed.verify(&after.bytes)?);
    Ok(())
}

#[test]
fn halo2_routed() -> anyhow::Result<()> {
    routed(Guest::Halo2)
}

#[test]
fn groth16_without_sdk_routed() -> anyhow::Result<()> {
    routed(Guest::Groth16NoSdk)
}
