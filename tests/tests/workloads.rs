//! Leaks and traps: what the baseline keeps, what recreate gives back.

use multimem::prove_cmd::{run_proofs, Args, Record};
use multimem_runtime::Strategy;

fn args(strategy: Strategy, proofs: u32, leak: u32, fail_every: Option<u32>) -> Args {
    Args { guest: Default::default(), constraints: 1 << 10, proofs, strategy, leak, fail_every, mixed: false, max_memory1: None, max_memory0: None, deadline: None, seed: 1, json: false, check_escapes: false, precompiled: None }
}

fn memory0_bytes(records: &[Record]) -> (u64, u64) {
    let first = records.first().unwrap().metrics.memory0_pages * 65536;
    let last = records.last().unwrap().metrics.memory0_pages * 65536;
    (first, last)
}

#[test]
fn leaks_grow_the_baseline_and_vanish_with_memory1() -> anyhow::Result<()> {
    let leak = 16 << 20;
    let baseline = run_proofs(&args(Strategy::Baseline, 100, leak, None), |_| {})?;
    let (first, last) = memory0_bytes(&baseline);
    eprintln!("baseline memory 0: {first} -> {last} bytes");
    assert!(last - first >= 1536 << 20, "baseline grew by only {} bytes", last - first);
    assert!(baseline.iter().all(|r| r.verified));

    let recreate = run_proofs(&args(Strategy::Recreate, 100, leak, None), |_| {})?;
    let (first, last) = memory0_bytes(&recreate);
    assert_eq!(first, last, "memory 0 grew under recreate");
    assert!(recreate.iter().all(|r| r.verified));
    assert!(recreate.iter().all(|r| r.metrics.memory1_peak_pages * 65536 >= leak as u64));
    Ok(())
}

#[test]
fn traps_are_contained_under_recreate() -> anyhow::Result<()> {
    for strategy in [Strategy::Recreate, Strategy::InPlace, Strategy::Baseline] {
        let records = run_proofs(&args(strategy, 12, 0, Some(3)), |_| {})?;
        for r in &records {
            if r.proof % 3 == 0 {
                let error = r.error.as_deref().unwrap_or_default();
                assert!(!r.ok && error.contains("trapped") && error.contains("unreachable"), "{strategy:?} proof {}: {error}", r.proof);
            } else {
                assert!(r.verified, "{strategy:?} proof {} after a trap: {:?}", r.proof, r.error);
            }
        }
        let (first, last) = memory0_bytes(&records);
        eprintln!("{}: memory 0 {first} -> {last} bytes over 12 proofs, 4 trapped", strategy.name());
        if strategy != Strategy::Baseline {
            assert_eq!(first, last, "memory 0 grew under {}", strategy.name());
        }
    }
    Ok(())
}

#[test]
fn limits_and_deadline_are_errors_not_crashes() -> anyhow::Result<()> {
    // A proof that needs more than 1 MiB of memory 1 fails as out of memory; the next one, unlimited, works.
    let limited = Args { max_memory1: Some(1), constraints: 1 << 12, ..args(Strategy::Recreate, 2, 0, None) };
    let records = run_proofs(&limited, |_| {})?;
    assert!(records.iter().all(|r| !r.ok), "{:?}", records[0].error);

    // A leaking baseline with memory 0 capped runs out after a few proofs; recreate never does.
    let capped = |strategy| Args { max_memory0: Some(64), ..args(strategy, 6, 16 << 20, None) };
    let baseline = run_proofs(&capped(Strategy::Baseline), |_| {})?;
    let completed = baseline.iter().take_while(|r| r.ok).count();
    assert!((1..6).contains(&completed), "baseline completed {completed} of 6 proofs with memory 0 capped");
    assert!(run_proofs(&capped(Strategy::Recreate), |_| {})?.iter().all(|r| r.verified));

    let deadline = Args { deadline: Some(1), ..args(Strategy::Recreate, 1, 0, None) };
    let records = run_proofs(&deadline, |_| {})?;
    let error = records[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("interrupt"), "{error}");
    Ok(())
}
