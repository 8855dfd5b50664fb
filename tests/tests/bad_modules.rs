//! A runtime given a module it cannot run answers with one clear error, on
//! one line, at load where it can know (or at the first call where only the
//! caller knows what it needs): never a panic, never a message that points
//! the wrong way (a truncated module is truncated, not "untransformed").

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::Result;
use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Prover, Strategy};
use multimem_transform::{Form, Options};
use wasmtime::{Engine, Linker, Val};

/// A small guest with the reference ABI's shape: setup, prove, a proof in memory.
const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "setup") (param i32) (result i32) (i32.const 0))
  (func (export "prove") (param i64) (result i32) (i32.const 0)))"#;

fn transformed(wat: &str, form: Form) -> Vec<u8> {
    multimem_transform::transform(&wat::parse_str(wat).unwrap(), &Options { form, ..Options::default() }).unwrap()
}

/// Loads `wasm` under `strategy` and makes one call and one proof: the first error, as a one-line string.
fn first_error(engine: &Engine, wasm: &[u8], strategy: Strategy) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        let mut prover = Prover::load(engine, &Linker::<()>::new(engine), wasm, strategy, Limits::default())?;
        prover.call("setup", &[Val::I32(1)])?;
        prover.prove(|p| p.call("prove", &[Val::I64(1)])).0?;
        Ok(())
    }));
    match outcome {
        Ok(result) => result.err().map(|e| format!("{e:#}")),
        Err(_) => panic!("{strategy}: the runtime panicked"),
    }
}

/// Asserts that `wasm` under `strategy` fails with one line containing every one of `words`.
fn refused(case: &str, engine: &Engine, wasm: &[u8], strategy: Strategy, words: &[&str]) {
    let error = first_error(engine, wasm, strategy).unwrap_or_else(|| panic!("{case}: {strategy} ran it"));
    eprintln!("{case} ({strategy}): {error}");
    assert!(!error.contains('\n'), "{case}: the error spans lines: {error}");
    for word in words {
        assert!(error.contains(word), "{case} under {strategy}: {error:?} does not say {word:?}");
    }
}

fn engines() -> Result<(Engine, Engine)> {
    Ok((multimem_runtime::engine()?, multimem_runtime::engine_view()?))
}

#[test]
fn the_wrong_form_is_named() -> Result<()> {
    let (engine, view_engine) = engines()?;
    let (portable, view) = (transformed(GUEST, Form::Portable), transformed(GUEST, Form::View));
    let untransformed = wat::parse_str(GUEST)?;
    for strategy in [Strategy::Recreate, Strategy::InPlace] {
        refused("untransformed", &engine, &untransformed, strategy, &["multimem transform"]);
        refused("view form", &engine, &view, strategy, &["portable form", "view form"]);
    }
    for strategy in [Strategy::View, Strategy::PrivateView] {
        refused("untransformed", &view_engine, &untransformed, strategy, &["multimem transform"]);
        refused("portable form", &view_engine, &portable, strategy, &["view form", "portable form"]);
        refused("not a view engine", &engine, &view, strategy, &["engine_view"]);
    }
    refused("transformed", &engine, &portable, Strategy::Baseline, &["untransformed"]);
    // The right form on the right engine runs.
    assert_eq!(first_error(&engine, &portable, Strategy::Recreate), None);
    assert_eq!(first_error(&view_engine, &view, Strategy::View), None);
    assert_eq!(first_error(&engine, &untransformed, Strategy::Baseline), None);
    Ok(())
}

#[test]
fn bytes_that_are_not_a_module_are_named() -> Result<()> {
    let (engine, view_engine) = engines()?;
    let portable = Guest::Halo2.transformed(Form::Portable)?;
    let component = wat::parse_str("(component)")?;
    for strategy in Strategy::ALL {
        let engine = if strategy.form() == Some(Form::View) { &view_engine } else { &engine };
        refused("garbage", engine, b"definitely not wasm", strategy, &["not a WebAssembly module"]);
        refused("empty", engine, b"", strategy, &["not a WebAssembly module"]);
        refused("truncated", engine, &portable[..portable.len() / 2], strategy, &["unexpected end"]);
        refused("component", engine, &component, strategy, &["component"]);
    }
    Ok(())
}

/// `wasm` without the export `name`.
fn without_export(wasm: &[u8], name: &str) -> Vec<u8> {
    let mut module = walrus::Module::from_buffer(wasm).unwrap();
    let id = module.exports.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no export {name}")).id();
    module.exports.delete(id);
    module.emit_wasm()
}

#[test]
fn missing_exports_and_imports_are_named() -> Result<()> {
    let engine = multimem_runtime::engine()?;
    let portable = transformed(GUEST, Form::Portable);
    // What the runtime itself needs: refused at load.
    for strategy in [Strategy::Recreate, Strategy::InPlace] {
        let stripped = without_export(&portable, multimem_transform::abi::EXPORT_PROOF_ACTIVE);
        refused("no proof flag", &engine, &stripped, strategy, &[multimem_transform::abi::EXPORT_PROOF_ACTIVE]);
    }
    // What only the caller needs: refused at the call that needs it.
    let no_prove = without_export(&portable, "prove");
    refused("no prove export", &engine, &no_prove, Strategy::Recreate, &["exports no function `prove`"]);
    let mut reference = Reference::load_module(&engine, Guest::Halo2, &without_export(Guest::Halo2.transformed(Form::Portable)?, "verify"), Strategy::Recreate, Limits::default())?;
    reference.setup(1 << 6)?;
    let proof = reference.prove(1).0?;
    let error = format!("{:#}", reference.verify(&proof.bytes).unwrap_err());
    assert!(error.contains("exports no function `verify`"), "{error}");

    // An import the caller's Linker does not serve.
    let importing = r#"(module
      (import "env" "entropy" (func $entropy (result i32)))
      (memory (export "memory") 1)
      (func (export "setup") (param i32) (result i32) (call $entropy))
      (func (export "prove") (param i64) (result i32) (i32.const 0)))"#;
    for strategy in [Strategy::Recreate, Strategy::InPlace] {
        refused("missing import", &engine, &transformed(importing, Form::Portable), strategy, &["env::entropy"]);
    }
    refused("missing import", &engine, &wat::parse_str(importing)?, Strategy::Baseline, &["env::entropy"]);
    Ok(())
}

#[test]
fn a_split_that_disagrees_is_refused() -> Result<()> {
    let engine = multimem_runtime::engine()?;
    // A module transformed at another split runs.
    let low = multimem_transform::transform(&wat::parse_str(GUEST)?, &Options { split: 0x4000_0000, ..Options::default() })?;
    assert_eq!(first_error(&engine, &low, Strategy::Recreate), None);
    // Its marker edited to the default split: the marker and the code disagree.
    let needle = b"split=0x40000000";
    let at = low.windows(needle.len()).position(|w| w == needle).expect("the marker names the split");
    let mut edited = low.clone();
    edited[at..at + needle.len()].copy_from_slice(b"split=0x80000000");
    for strategy in [Strategy::Recreate, Strategy::InPlace] {
        refused("split mismatch", &engine, &edited, strategy, &["split", "0x40000000", "0x80000000"]);
    }
    Ok(())
}

#[test]
fn a_threaded_module_runs_under_recreate_not_in_place() -> Result<()> {
    let threaded = r#"(module
      (memory (export "memory") 1 16 shared)
      (func (export "setup") (param i32) (result i32) (i32.const 0))
      (func (export "prove") (param i64) (result i32) (i32.const 0)))"#;
    let wasm = transformed(threaded, Form::Portable);
    // Memory 1 of the per-proof module is never shared, so the pool takes it too.
    assert_eq!(first_error(&multimem_runtime::engine()?, &wasm, Strategy::Recreate), None, "recreate on the pool");
    assert_eq!(first_error(&multimem_runtime::engine_on_demand()?, &wasm, Strategy::Recreate), None, "recreate on demand");
    // In place would have to release a shared memory 1's pages under the threads' feet: refused.
    refused("threaded in place", &multimem_runtime::engine_on_demand()?, &wasm, Strategy::InPlace, &["in-place", "threaded", "recreate"]);
    // The untransformed threaded module runs under the baseline.
    assert_eq!(first_error(&multimem_runtime::engine_on_demand()?, &wat::parse_str(threaded)?, Strategy::Baseline), None, "baseline on demand");
    Ok(())
}

#[test]
fn modules_the_recreate_strategy_cannot_split_are_named() -> Result<()> {
    let engine = multimem_runtime::engine()?;
    let with_start = r#"(module
      (memory (export "memory") 1)
      (global $g (mut i32) (i32.const 0))
      (func $init (global.set $g (i32.const 1)))
      (start $init)
      (func (export "setup") (param i32) (result i32) (i32.const 0))
      (func (export "prove") (param i64) (result i32) (i32.const 0)))"#;
    // A start function is no reason to refuse: it runs once, against memory 0, at load.
    assert_eq!(first_error(&engine, &transformed(with_start, Form::Portable), Strategy::Recreate), None, "start function");
    let for_js = multimem_transform::transform(
        &wat::parse_str(GUEST)?,
        &Options { import_persistent: Some(multimem_transform::Import::Default), ..Options::default() },
    )?;
    refused("host-supplied memories", &engine, &for_js, Strategy::Recreate, &["--import-persistent"]);
    Ok(())
}
