//! A prover that is not the reference one: its own host imports come from the
//! caller's Linker, and its memory-1 allocations are made through the guest ABI.

use multimem_runtime::{Limits, Prover, Strategy};
use multimem_transform::Options;
use wasmtime::{Linker, Val};

const GUEST: &str = r#"(module
  (import "env" "scale" (func $scale (param i32) (result i32)))
  (import "multimem" "ephemeral_grow" (func $grow (param i32) (result i32)))
  (import "multimem" "split" (func $split (result i32)))
  (memory (export "memory") 1)
  (global $setup_value (mut i32) (i32.const 0))
  (func (export "setup") (param i32) (global.set $setup_value (call $scale (local.get 0))))
  ;; A "proof": takes one page of memory 1 and writes the result at its start (a tagged pointer).
  (func (export "prove") (result i32) (local $p i32)
    (local.set $p (i32.add (call $split) (i32.mul (call $grow (i32.const 1)) (i32.const 65536))))
    (i32.store (local.get $p) (i32.add (global.get $setup_value) (i32.const 1)))
    (local.get $p))
  ;; Sums `len` u32s at `ptr` into a record at `out`: the sum (u64), then `len` (u32).
  (func (export "stats") (param $ptr i32) (param $len i32) (param $out i32) (local $i i32) (local $sum i64)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $sum (i64.add (local.get $sum)
        (i64.extend_i32_u (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i64.store (local.get $out) (local.get $sum))
    (i32.store offset=8 (local.get $out) (local.get $len))))"#;

/// The record `stats` writes, as the host reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Stats {
    sum: u64,
    len: u32,
    _pad: u32,
}

#[test]
fn caller_linker_serves_guest_imports_under_every_strategy() -> anyhow::Result<()> {
    let original = wat::parse_str(GUEST)?;
    for strategy in Strategy::ALL {
        let Some(form) = strategy.form() else {
            continue; // this guest needs memory 1 for its proof
        };
        let engine = multimem_runtime::engine_for(strategy)?;
        let mut linker = Linker::<()>::new(&engine);
        linker.func_wrap("env", "scale", |x: i32| x * 10)?;
        let transformed = multimem_transform::transform(&original, &Options { form, ..Options::default() })?;
        let mut prover = Prover::load(&engine, &linker, &transformed, strategy, Limits::default())?;
        prover.call("setup", &[Val::I32(4)])?;
        for _ in 0..3 {
            let (value, metrics) = prover.prove(|proof| {
                let ptr = proof.call("prove", &[])?[0].unwrap_i32() as u32;
                assert!(ptr >= multimem_transform::DEFAULT_SPLIT, "a tagged pointer");
                proof.read_pod::<i32>(ptr)
            });
            assert_eq!(value?, 41, "{strategy:?}: setup state (global) carried into the proof");
            if strategy != Strategy::InPlace {
                // In place, memory 1 keeps its pages; this guest, unlike the SDK, never reuses them.
                assert_eq!(metrics.memory1_peak_pages, 1, "a fresh memory 1 per proof");
            }
        }
    }
    Ok(())
}

#[test]
fn typed_reads_and_writes_reach_both_memories() -> anyhow::Result<()> {
    let original = wat::parse_str(GUEST)?;
    let values: Vec<u32> = (1..=100).map(|i| i * 1_000_003).collect();
    let expected = Stats { sum: values.iter().map(|&v| v as u64).sum(), len: values.len() as u32, _pad: 0 };
    for strategy in Strategy::ALL {
        let Some(form) = strategy.form() else { continue };
        let engine = multimem_runtime::engine_for(strategy)?;
        let mut linker = Linker::<()>::new(&engine);
        linker.func_wrap("env", "scale", |x: i32| x * 10)?;
        let transformed = multimem_transform::transform(&original, &Options { form, ..Options::default() })?;
        let mut prover = Prover::load(&engine, &linker, &transformed, strategy, Limits::default())?;
        let stats = |s: &mut multimem_runtime::Session<'_, ()>, at: u32| -> anyhow::Result<Stats> {
            // Odd addresses: the reads and writes need no alignment.
            s.write_slice(at + 1, &values)?;
            assert_eq!(s.read_slice::<u32>(at + 1, values.len() as u32)?, values);
            s.write_pod(at + 1001, &Stats { sum: u64::MAX, len: 0, _pad: 0 })?;
            s.call("stats", &[Val::I32((at + 1) as i32), Val::I32(values.len() as i32), Val::I32((at + 1001) as i32)])?;
            s.read_pod::<Stats>(at + 1001)
        };
        // Memory 0, outside a proof.
        assert_eq!(prover.run(|s| stats(s, 4096))?, expected, "{strategy:?}: memory 0");
        // Memory 1, at the tagged pointer of a proof's page.
        let (in_memory1, _) = prover.prove(|proof| {
            let page = proof.call("prove", &[])?[0].unwrap_i32() as u32;
            assert!(page >= multimem_transform::DEFAULT_SPLIT, "a tagged pointer");
            let err = proof.read_pod::<u64>(page - 4).unwrap_err();
            assert!(format!("{err}").contains("out of bounds"), "below the page is memory 0's hole: {err}");
            stats(proof, page)
        });
        assert_eq!(in_memory1?, expected, "{strategy:?}: memory 1");
    }
    Ok(())
}
