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
    (local.get $p)))"#;

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
                proof.read(ptr, 4)
            });
            assert_eq!(value?, 41i32.to_le_bytes(), "{strategy:?}: setup state (global) carried into the proof");
            if strategy != Strategy::InPlace {
                // In place, memory 1 keeps its pages; this guest, unlike the SDK, never reuses them.
                assert_eq!(metrics.memory1_peak_pages, 1, "a fresh memory 1 per proof");
            }
        }
    }
    Ok(())
}
