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

/// Benchmark, not a check: proof time of the routed portable form over the
/// same portable form without routing, interleaved proof by proof on the
/// same seeds, and transform time with and without routing. Sizes from
/// `ROUTE_BENCH_SIZES` (default 4096,65536), proofs from `ROUTE_BENCH_PROOFS` (default 5):
///
///     cargo test --release -p multimem-tests --test route_guests -- --ignored --nocapture bench
#[test]
#[ignore = "benchmark; run on demand"]
fn bench_routing_cost() -> anyhow::Result<()> {
    use multimem_transform::{Options, Route};
    use std::time::Instant;
    let sizes: Vec<u32> = std::env::var("ROUTE_BENCH_SIZES").unwrap_or("4096,65536".into()).split(',').map(|s| s.parse().unwrap()).collect();
    let proofs: u64 = std::env::var("ROUTE_BENCH_PROOFS").ok().and_then(|p| p.parse().ok()).unwrap_or(5);
    let guest = Guest::Groth16NoSdk;
    let mut modules = Vec::new();
    for route in [Route::Off, Route::On] {
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            out = multimem_transform::transform(guest.wasm(), &Options { route, ..Options::default() })?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!("transform {route:?}: median {:.3} s", times[2]);
        modules.push(out);
    }
    let engine = multimem_runtime::engine_for(Strategy::Recreate)?;
    println!("| constraints | unrouted ms | routed ms | ratio |");
    for size in sizes {
        let mut provers = Vec::new();
        for wasm in &modules {
            let mut p = Reference::load_module(&engine, guest, wasm, Strategy::Recreate, Limits::default())?;
            p.setup(size)?;
            provers.push(p);
        }
        let mut walls = [Vec::new(), Vec::new()];
        for seed in 0..=proofs {
            let mut bytes = Vec::new();
            for (i, p) in provers.iter_mut().enumerate() {
                let (proof, metrics) = p.prove(seed + 1);
                bytes.push(proof?.bytes);
                if seed > 0 {
                    walls[i].push(metrics.wall.as_secs_f64() * 1e3);
                }
            }
            assert_eq!(bytes[0], bytes[1]);
        }
        for w in &mut walls {
            w.sort_by(f64::total_cmp);
        }
        let (a, b) = (walls[0][walls[0].len() / 2], walls[1][walls[1].len() / 2]);
        println!("| {size} | {a:.1} | {b:.1} | {:.3} |", b / a);
    }
    Ok(())
}
