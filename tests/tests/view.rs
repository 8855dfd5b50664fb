//! The view strategies: memory 1 is a view of memory 0 below the split and
//! fresh scratch above it. What the view must keep: memory 0's writes and
//! growth seen through it, shared vs copy-on-write semantics, traps in the
//! hole below the split, and scratch given back at every drop.

use multimem::reference::Reference;
use multimem_runtime::{rss_bytes, Limits, Prover, Strategy};
use multimem_transform::{Form, Options};
use wasmtime::{Linker, Val};

const GUEST: &str = r#"(module
  (import "multimem" "ephemeral_grow" (func $grow (param i32) (result i32)))
  (import "multimem" "ephemeral_size" (func $size (result i32)))
  (import "multimem" "split" (func $split (result i32)))
  (memory 1)
  (global $counter (mut i32) (i32.const 0))
  (data (i32.const 64) "\2a\00\00\00")
  (func (export "read") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "write") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "counter") (result i32) (global.get $counter))
  ;; Bumps persistent data and a global; returns the static at 64 as seen then.
  (func (export "bump") (result i32)
    (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (i32.load (i32.const 64)))
  ;; Grows memory 0 by a page and writes `value` at its start; returns the address.
  (func (export "grow_persistent") (param $value i32) (result i32) (local $p i32)
    (local.set $p (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))
    (i32.store (local.get $p) (local.get $value))
    (local.get $p))
  ;; Takes `pages` pages of scratch, touches each, returns the tagged start.
  (func (export "scratch") (param $pages i32) (result i32) (local $p i32) (local $i i32)
    (local.set $p (i32.add (call $split) (i32.mul (call $grow (local.get $pages)) (i32.const 65536))))
    (block $done (loop $touch
      (br_if $done (i32.ge_u (local.get $i) (local.get $pages)))
      (i32.store (i32.add (local.get $p) (i32.mul (local.get $i) (i32.const 65536))) (i32.const 7))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $touch)))
    (local.get $p))
  (func (export "scratch_pages") (result i32) (call $size)))"#;

/// RSS is the whole process's, and tests in one binary run on parallel
/// threads: the test that measures it was flaky next to one proving with the
/// reference prover, so the tests here take turns.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn load(strategy: Strategy) -> anyhow::Result<Prover<()>> {
    let engine = multimem_runtime::engine_for(strategy)?;
    let wasm = multimem_transform::transform(&wat::parse_str(GUEST)?, &Options { form: Form::View, ..Options::default() })?;
    Prover::load(&engine, &Linker::new(&engine), &wasm, strategy, Limits::default())
}

fn i32_of(v: Vec<Val>) -> i32 {
    v[0].unwrap_i32()
}

#[test]
fn shared_view_keeps_what_a_proof_writes_to_memory_0() -> anyhow::Result<()> {
    let _alone = alone();
    let mut prover = load(Strategy::View)?;
    assert_eq!(i32_of(prover.call("read", &[Val::I32(64)])?), 42, "data applied once");
    let seen = prover.prove(|p| Ok(i32_of(p.call("bump", &[])?))).0?;
    assert_eq!(seen, 43);
    assert_eq!(i32_of(prover.call("read", &[Val::I32(64)])?), 43, "the write persisted");
    assert_eq!(i32_of(prover.call("counter", &[])?), 1, "the global carried over");
    Ok(())
}

#[test]
fn private_view_forgets_what_a_proof_writes_to_memory_0() -> anyhow::Result<()> {
    let _alone = alone();
    let mut prover = load(Strategy::PrivateView)?;
    prover.call("bump", &[])?; // outside a proof: persists
    for _ in 0..3 {
        let seen = prover.prove(|p| Ok(i32_of(p.call("bump", &[])?))).0?;
        assert_eq!(seen, 44, "the proof sees memory 0 as it was, and its own write");
    }
    assert_eq!(i32_of(prover.call("read", &[Val::I32(64)])?), 43, "the proofs' writes vanished");
    assert_eq!(i32_of(prover.call("counter", &[])?), 1, "so did their changes to globals");
    Ok(())
}

#[test]
fn memory_0_growth_during_a_proof_is_visible_through_the_view() -> anyhow::Result<()> {
    let _alone = alone();
    let mut prover = load(Strategy::View)?;
    let (grown, metrics) = prover.prove(|p| {
        let at = i32_of(p.call("grow_persistent", &[Val::I32(1234)])?);
        // Written through the view, read back both through the view and by the host.
        assert_eq!(i32_of(p.call("read", &[Val::I32(at)])?), 1234);
        assert_eq!(p.read_pod::<i32>(at as u32)?, 1234);
        Ok(at)
    });
    let grown = grown?;
    assert_eq!(metrics.memory0_pages, 2);
    assert_eq!(i32_of(prover.call("read", &[Val::I32(grown)])?), 1234, "a later instance maps the grown memory 0");
    Ok(())
}

#[test]
fn the_hole_below_the_split_traps_out_of_bounds() -> anyhow::Result<()> {
    let _alone = alone();
    let mut prover = load(Strategy::View)?;
    let beyond_memory0 = 1 << 20; // memory 0 has one page
    let err = prover.prove(|p| p.call("read", &[Val::I32(beyond_memory0)])).0.unwrap_err();
    assert!(format!("{err:#}").contains("out of bounds"), "{err:#}");
    let err = prover.prove(|p| p.read(beyond_memory0 as u32, 4)).0.unwrap_err();
    assert!(format!("{err:#}").contains("out of bounds"), "the host refuses too: {err:#}");
    // The prover carries on.
    assert_eq!(i32_of(prover.call("read", &[Val::I32(64)])?), 42);
    Ok(())
}

#[test]
fn scratch_is_fresh_and_given_back_every_proof() -> anyhow::Result<()> {
    let _alone = alone();
    let mut prover = load(Strategy::View)?;
    prover.prove(|p| p.call("scratch", &[Val::I32(1024)])).0?; // warm up: 64 MiB
    let before = rss_bytes();
    for _ in 0..10 {
        let (ptr, metrics) = prover.prove(|p| {
            assert_eq!(i32_of(p.call("scratch_pages", &[])?), 0, "memory 1 starts with no scratch");
            let ptr = i32_of(p.call("scratch", &[Val::I32(1024)])?) as u32;
            assert_eq!(p.read_pod::<i32>(ptr + 65536 * 1023)?, 7);
            Ok(ptr)
        });
        assert_eq!(ptr?, multimem_transform::DEFAULT_SPLIT);
        assert_eq!(metrics.memory1_peak_pages, 1024);
    }
    let grown = rss_bytes().saturating_sub(before);
    assert!(grown < 16 << 20, "10 proofs of 64 MiB scratch left RSS {grown} bytes higher");
    Ok(())
}

#[test]
fn a_view_form_module_needs_a_view_strategy_and_engine() -> anyhow::Result<()> {
    let _alone = alone();
    let wasm = multimem_transform::transform(&wat::parse_str(GUEST)?, &Options { form: Form::View, ..Options::default() })?;
    let engine = multimem_runtime::engine()?;
    let linker = Linker::<()>::new(&engine);
    let err = Prover::load(&engine, &linker, &wasm, Strategy::Recreate, Limits::default()).err().unwrap();
    assert!(format!("{err:#}").contains("view form"), "{err:#}");
    let mut prover = Prover::load(&engine, &linker, &wasm, Strategy::View, Limits::default())?;
    let err = prover.call("counter", &[]).unwrap_err();
    assert!(format!("{err:#}").contains("engine_view"), "{err:#}");
    Ok(())
}

#[test]
fn reference_proofs_verify_under_both_views_and_memory_stays_flat() -> anyhow::Result<()> {
    let _alone = alone();
    for strategy in [Strategy::View, Strategy::PrivateView] {
        let engine = multimem_runtime::engine_for(strategy)?;
        let mut reference = Reference::load(&engine, strategy, Limits::default())?;
        reference.setup(1 << 10)?;
        let mut memory0 = Vec::new();
        for seed in 1..=5 {
            let (proof, metrics) = reference.prove(seed);
            assert!(reference.verify(&proof?.bytes)?, "{strategy:?} proof {seed}");
            assert!(metrics.memory1_peak_pages > 0, "the proof ran in memory 1's scratch");
            memory0.push(metrics.memory0_pages);
        }
        assert!(memory0.windows(2).all(|w| w[0] == w[1]), "{strategy:?}: memory 0 pages per proof {memory0:?}");
    }
    Ok(())
}
