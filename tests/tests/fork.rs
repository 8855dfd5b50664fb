//! The fork strategy on provers built without the SDK (halo2, Groth16 with
//! std's allocator): every proof in a private view of memory 0 whose growth
//! is its own, so after each proof memory 0 (size, bytes) and the globals are
//! exactly as before it, leaks and traps included; and proofs at once.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Session, Strategy};
use wasmtime::Val;

/// Small circuits that still run every stage of the prover: 100 proofs take seconds.
fn size(guest: Guest) -> u32 {
    match guest {
        Guest::Halo2 => 1 << 5,
        _ => 1 << 6,
    }
}
const LEAK: u32 = 16 << 20;

/// RSS is the process's and tests run on parallel threads: take turns.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Memory 0's size, a hash of its bytes, and every exported global.
#[derive(Debug, PartialEq, Eq)]
struct State {
    pages: u64,
    hash: u64,
    globals: Vec<String>,
}

fn state(r: &mut Reference) -> anyhow::Result<State> {
    let pages = r.prover().memory0_pages();
    r.prover().run(|s| {
        let bytes = s.read(0, (pages * 65536) as u32)?;
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let instance = s.instance();
        let exports: Vec<String> = instance.exports(s.store()).map(|e| e.name().to_owned()).collect();
        let mut globals = Vec::new();
        for name in exports {
            if let Some(g) = instance.get_global(s.store(), &name) {
                globals.push(format!("{name}={:?}", g.get(s.store()).i64().or(g.get(s.store()).i32().map(i64::from))));
            }
        }
        Ok(State { pages, hash: h.finish(), globals })
    })
}

fn prove_call(p: &mut Session<'_, ()>, seed: u64) -> anyhow::Result<Vec<u8>> {
    let status = p.call("prove", &[Val::I64(seed as i64)])?[0].unwrap_i32();
    anyhow::ensure!(status == 0, "prove returned {status}");
    let ptr = p.call("proof_ptr", &[])?[0].unwrap_i32() as u32;
    let len = p.call("proof_len", &[])?[0].unwrap_i32() as u32;
    p.read(ptr, len)
}

/// Verification inside a proof too, so that it leaves memory 0 alone.
fn verify_in(p: &mut Session<'_, ()>, bytes: &[u8]) -> anyhow::Result<bool> {
    let len = Val::I32(bytes.len() as i32);
    let ptr = p.call("alloc", &[len.clone()])?[0].unwrap_i32();
    p.write(ptr as u32, bytes)?;
    Ok(p.call("verify", &[Val::I32(ptr), len])?[0].unwrap_i32() == 1)
}

fn loaded(guest: Guest, strategy: Strategy) -> anyhow::Result<Reference> {
    let engine = multimem_runtime::engine_for(strategy)?;
    let mut r = Reference::load_guest(&engine, guest, strategy, Limits::default())?;
    r.setup(size(guest))?;
    Ok(r)
}

/// 100 proofs, leaking 16 MiB each and every third trapping part-way: all
/// the others verify, memory 0 and the globals never change, RSS stays flat,
/// and the proofs are the baseline's.
fn hundred_proofs(guest: Guest) -> anyhow::Result<()> {
    let _alone = alone();
    let mut baseline = loaded(guest, Strategy::Baseline)?;
    let expected: Vec<Vec<u8>> = (1..=2).map(|seed| baseline.prove(seed).0.map(|p| p.bytes)).collect::<Result<_, _>>()?;
    drop(baseline);

    let mut fork = loaded(guest, Strategy::Fork)?;
    fork.set_leak(LEAK)?;
    let before = state(&mut fork)?;
    let (mut rss_first, mut rss_last) = (0, 0);
    for i in 1..=100u64 {
        let fail = i % 3 == 0;
        let (result, metrics) = fork.prover().prove(|p| {
            if fail {
                p.call("set_fail", &[Val::I32(1)])?;
            }
            let bytes = prove_call(p, i)?;
            Ok((verify_in(p, &bytes)?, bytes))
        });
        match (fail, result) {
            (true, Err(e)) => assert!(format!("{e:#}").contains("unreachable"), "{guest} proof {i}: {e:#}"),
            (true, Ok(_)) => panic!("{guest} proof {i} should have trapped"),
            (false, Err(e)) => panic!("{guest} proof {i}: {e:#}"),
            (false, Ok((verified, bytes))) => {
                assert!(verified, "{guest} proof {i} does not verify");
                if let Some(e) = expected.get(i as usize - 1) {
                    assert_eq!(&bytes, e, "{guest} proof {i} differs from the baseline's");
                }
            }
        }
        assert!(metrics.memory0_proof_pages > before.pages, "{guest} proof {i}: the proof grew its own memory 0 ({} pages)", metrics.memory0_proof_pages);
        assert_eq!(metrics.memory0_pages, before.pages, "{guest} proof {i}: memory 0 after it");
        assert_eq!(state(&mut fork)?, before, "{guest}: memory 0 or a global changed with proof {i}");
        if i == 1 {
            rss_first = metrics.rss_bytes;
        }
        rss_last = metrics.rss_bytes;
    }
    eprintln!("{guest}: RSS after proof 1 {} MiB, after proof 100 {} MiB", rss_first >> 20, rss_last >> 20);
    assert!(rss_last as f64 <= rss_first as f64 * 1.05, "{guest}: RSS grew from {rss_first} to {rss_last}");
    Ok(())
}

#[test]
fn halo2_hundred_proofs_leave_memory_0_as_it_was() -> anyhow::Result<()> {
    hundred_proofs(Guest::Halo2)
}

#[test]
fn groth16_without_sdk_hundred_proofs_leave_memory_0_as_it_was() -> anyhow::Result<()> {
    hundred_proofs(Guest::Groth16NoSdk)
}

/// Under private-view memory 0 keeps each proof's growth; under fork it does not.
#[test]
fn growth_stays_in_the_proof_only_under_fork() -> anyhow::Result<()> {
    let _alone = alone();
    for strategy in [Strategy::PrivateView, Strategy::Fork] {
        let mut r = loaded(Guest::Halo2, strategy)?;
        let pages = r.prover().memory0_pages();
        for seed in 1..=3 {
            r.prove(seed).0?;
        }
        let after = r.prover().memory0_pages();
        match strategy {
            Strategy::Fork => assert_eq!(after, pages, "fork: memory 0 grew"),
            _ => assert!(after > pages, "private-view: expected the known growth ({pages} -> {after})"),
        }
    }
    Ok(())
}

/// 4 threads × 25 proofs on one prover: each writes its own mark into a
/// persistent block and into a page it grows, and must read back only its own.
#[test]
fn proofs_at_once_do_not_see_each_other() -> anyhow::Result<()> {
    let _alone = alone();
    let mut fork = loaded(Guest::Groth16NoSdk, Strategy::Fork)?;
    let expected: Vec<Vec<u8>> = (1..=4).map(|seed| fork.prove(seed).0.map(|p| p.bytes)).collect::<Result<_, _>>()?;
    // A block of memory 0 no proof's allocator can hand out.
    let block = fork.prover().call("alloc", &[Val::I32(64)])?[0].unwrap_i32() as u32;
    let before = state(&mut fork)?;
    let prover = fork.prover();
    let proofs = prover.proofs()?;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let (proofs, expected) = (&proofs, &expected[t as usize]);
                scope.spawn(move || -> anyhow::Result<()> {
                    for n in 0..25u64 {
                        let mark = (t << 32 | n).to_le_bytes();
                        let (result, _) = proofs.prove(|p| {
                            p.write(block, &mark)?;
                            let memory = p.instance().get_memory(p.store(), "multimem.persistent_memory").unwrap();
                            let grown = memory.grow(p.store(), 1)? as u32 * 65536;
                            p.write(grown, &mark)?;
                            let bytes = prove_call(p, t + 1)?;
                            Ok((bytes, p.read(block, 8)?, p.read(grown, 8)?))
                        });
                        let (bytes, persistent, fresh) = result?;
                        anyhow::ensure!(persistent == mark && fresh == mark, "thread {t} proof {n} saw another proof's write");
                        anyhow::ensure!(&bytes == expected, "thread {t} proof {n}: not the proof of seed {}", t + 1);
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().unwrap())
    })?;
    drop(proofs);
    assert_eq!(state(&mut fork)?, before, "memory 0 changed");
    for (seed, bytes) in (1..).zip(&expected) {
        assert!(fork.verify(bytes)?, "proof of seed {seed} does not verify");
    }
    Ok(())
}

#[test]
fn proofs_at_once_need_fork() -> anyhow::Result<()> {
    let mut r = loaded(Guest::Groth16NoSdk, Strategy::PrivateView)?;
    let err = r.prover().proofs().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("fork strategy") && err.contains("private-view"), "{err}");
    Ok(())
}

/// A module with an out-of-bounds load, a store, and a host import that writes
/// through the module's exported memory, as WASI implementations do.
const PROBE: &str = r#"(module
  (import "env" "poke" (func $poke (param i32 i32)))
  (memory (export "memory") 2 100)
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "poke") (param i32 i32) (call $poke (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;

fn probe() -> anyhow::Result<multimem_runtime::Prover<()>> {
    let engine = multimem_runtime::engine_for(Strategy::Fork)?;
    let mut linker = wasmtime::Linker::new(&engine);
    linker.func_wrap("env", "poke", |mut c: wasmtime::Caller<'_, ()>, ptr: u32, value: u32| -> wasmtime::Result<()> {
        let memory = c.get_export("memory").and_then(|e| e.into_memory()).ok_or_else(|| wasmtime::format_err!("no memory export"))?;
        memory.write(&mut c, ptr as usize, &value.to_le_bytes())?;
        Ok(())
    })?;
    multimem_runtime::Prover::load(&engine, &linker, &wat::parse_str(PROBE)?, Strategy::Fork, Limits::default())
}

fn load(s: &mut Session<'_, ()>, ptr: u32) -> anyhow::Result<i32> {
    Ok(s.call("load", &[Val::I32(ptr as i32)])?[0].unwrap_i32())
}

/// An out-of-bounds access in a fork proof is a trap like any other, and the
/// next proof runs. (Found by the fork fuzz target: a proof's memory 0 and its
/// view shared one address range, and wasmtime panicked looking the faulting
/// address up among the instance's memories.)
#[test]
fn out_of_bounds_in_a_fork_proof_traps() -> anyhow::Result<()> {
    let mut prover = probe()?;
    prover.call("store", &[Val::I32(100), Val::I32(7)])?;
    for _ in 0..3 {
        for ptr in [3 << 16, 0x7fff_0000, 0xffff_fff0] {
            let (result, _) = prover.prove(|s| load(s, ptr));
            let err = format!("{:#}", result.expect_err("the load is out of bounds"));
            assert!(err.contains("out of bounds"), "{err}");
        }
        let (grown, _) = prover.prove(|s| {
            let old = s.call("grow", &[Val::I32(1)])?[0].unwrap_i32() as u32;
            Ok((old, load(s, old << 16)?, load(s, 100)?))
        });
        assert_eq!(grown?, (2, 0, 7));
    }
    assert_eq!(prover.memory0_pages(), 2);
    Ok(())
}

/// A host import that writes through the module's exported memory writes the
/// proof's view: the guest reads it back in the proof, and it is gone after.
#[test]
fn host_writes_through_the_exported_memory_stay_in_the_proof() -> anyhow::Result<()> {
    let mut prover = probe()?;
    prover.call("store", &[Val::I32(100), Val::I32(7)])?;
    let (seen, _) = prover.prove(|s| {
        s.call("poke", &[Val::I32(200), Val::I32(9)])?;
        Ok((load(s, 200)?, load(s, 100)?))
    });
    assert_eq!(seen?, (9, 7));
    let after = prover.run(|s| Ok((load(s, 200)?, load(s, 100)?)))?;
    assert_eq!(after, (0, 7), "the proof's write reached memory 0");
    // Outside a proof the same import writes memory 0 itself.
    prover.call("poke", &[Val::I32(300), Val::I32(5)])?;
    assert_eq!(prover.run(|s| load(s, 300))?, 5);
    Ok(())
}
