//! Original and transformed modules behave the same: seeded, deterministic
//! cases over wasm-smith modules (the stable-toolchain side of fuzz/).

use multimem_tests::{differential, pointers, smith};
use multimem_transform::{Options, StoreAnchor};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::test_runner::{Config, RngSeed, TestRunner};

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(0x6d75_6c74_696d_656d), failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config(300))]

    /// Every module with every claimed feature transforms, and the output validates.
    #[test]
    fn smith_modules_transform_and_validate(bytes in proptest::collection::vec(any::<u8>(), 256..8192)) {
        let Some(original) = smith::module(smith::transformable(), &bytes) else { return Ok(()) };
        if multimem_transform::check(&original).is_err() {
            return Ok(());
        }
        let out = multimem_transform::transform(&original, &Options::default())
            .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
        multimem_transform::validate(&out).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    }

    /// Arbitrary bytes and damaged modules: an error or a valid module, never a panic.
    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cut in any::<usize>(), flip in any::<usize>()) {
        let mut inputs = vec![bytes.clone()];
        if let Some(mut module) = smith::module(smith::transformable(), &bytes) {
            inputs.push(module[..cut % module.len()].to_vec());
            let i = flip % module.len();
            module[i] ^= 1 << (flip % 8);
            inputs.push(module);
        }
        for input in inputs {
            if let Ok(out) = multimem_transform::transform(&input, &Options::default()) {
                multimem_transform::validate(&out).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
            }
        }
    }
}

/// Same results, traps, globals and memory 0 for every exported function.
#[test]
fn transformed_behaves_like_original() {
    let engine = differential::engine();
    let compared = AtomicUsize::new(0);
    let inputs = (proptest::collection::vec(any::<u8>(), 256..4096), any::<u64>());
    let mut runner = TestRunner::new(config(300));
    let result = runner.run(&inputs, |(bytes, seed)| {
        let Some(original) = smith::module(smith::differential(), &bytes) else { return Ok(()) };
        if multimem_transform::check(&original).is_err() {
            return Ok(()); // refused with a reason (an export named like multimem's own)
        }
        let anchor = if seed % 2 == 0 { StoreAnchor::Global } else { StoreAnchor::Local };
        let options = Options { store_anchor: Some(anchor), ..Options::default() };
        let transformed = match multimem_transform::transform(&original, &options) {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("transform refused a valid module: {e:#}"))),
        };
        if differential::compare(&engine, &original, &transformed, seed).map_err(TestCaseError::fail)? {
            compared.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let compared = compared.into_inner();
    assert!(compared >= 100, "only {compared} of 300 cases ran to a verdict");
}

/// Provenance and versioned functions against the one-memory model: pointers
/// into either memory through parameters, frames, loops and memory itself
/// (see `multimem_tests::pointers`).
#[test]
fn pointer_programs_match_the_one_memory_model() {
    let engine = wasmtime::Engine::default();
    let cases = 300;
    let (mut functions, mut loops) = (0, 0);
    for seed in 0..cases {
        match pointers::check(&engine, seed) {
            Ok(stats) => {
                functions += usize::from(stats.versioned_functions > 0);
                loops += usize::from(stats.versioned_loops > 0);
            }
            Err(difference) => panic!("{difference}"),
        }
    }
    let cases = cases as usize;
    eprintln!("{functions} of {cases} programs with a versioned function, {loops} with a versioned loop");
    assert!(functions * 10 >= cases * 9, "only {functions} of {cases} programs had a versioned function");
    assert!(loops * 10 >= cases * 7, "only {loops} of {cases} programs had a versioned loop");
}
