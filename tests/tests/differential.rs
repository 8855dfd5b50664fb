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

/// The same on modules of the size the fuzz targets now make
/// ([`smith::sized_module`]: 1 to 64 functions, hundreds of memory
/// instructions) from short inputs, as libFuzzer gives them.
#[test]
fn transformed_behaves_like_original_on_real_sized_modules() {
    let engine = differential::engine();
    let (compared, accesses) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(config(100));
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 1..64), |input| {
        let Some(original) = smith::sized_module(smith::differential(), &input) else { return Ok(()) };
        if multimem_transform::check(&original).is_err() {
            return Ok(());
        }
        let transformed = multimem_transform::transform(&original, &Options::default())
            .map_err(|e| TestCaseError::fail(format!("transform refused a valid module: {e:#}")))?;
        if differential::compare(&engine, &original, &transformed, smith::seed(&input)).map_err(TestCaseError::fail)? {
            compared.fetch_add(1, Ordering::Relaxed);
            accesses.fetch_add(smith::sizes(&original).map_or(0, |(_, a)| a), Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (compared, accesses) = (compared.into_inner(), accesses.into_inner());
    eprintln!("{compared} of 100 cases compared, {accesses} memory instructions among them");
    assert!(compared >= 80, "only {compared} of 100 cases ran to a verdict");
    assert!(accesses >= compared * 100, "the modules compared are small: {accesses} memory instructions in {compared}");
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

/// Found by the `differential` campaign on real-sized modules: an atomic
/// access at an address at or above the split (a negative i16 lane as the
/// address) whose effective address passes 4 GiB. The original traps out of
/// bounds; routed to memory 1 the address no longer overflows and the same
/// access traps misaligned. Both are the one wasm trap; the checks treat them
/// as one kind (`differential::trap`).
#[test]
fn atomic_access_past_4_gib_above_the_split_traps_in_both() -> anyhow::Result<()> {
    let original = wat::parse_str(
        r#"(module (memory 1 1)
             (func (export "notify") (result i32) i32.const -2 i32.const 1 memory.atomic.notify offset=16))"#,
    )?;
    let transformed = multimem_transform::transform(&original, &Options::default())?;
    let engine = differential::engine();
    let trap_of = |wasm: &[u8]| -> anyhow::Result<Option<wasmtime::Trap>> {
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_fuel(differential::FUEL)?;
        let module = wasmtime::Module::new(&engine, wasm)?;
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let notify = instance.get_typed_func::<(), i32>(&mut store, "notify")?;
        Ok(notify.call(&mut store, ()).err().and_then(|e| e.downcast_ref::<wasmtime::Trap>().copied()))
    };
    assert_eq!(trap_of(&original)?, Some(wasmtime::Trap::MemoryOutOfBounds));
    assert_eq!(trap_of(&transformed)?, Some(wasmtime::Trap::HeapMisaligned));
    assert_eq!(differential::compare(&engine, &original, &transformed, 0), Ok(true));
    Ok(())
}

/// Inputs the `differential` campaign found, through `smith::sized_module` on
/// wasm-smith 0.263 (another version builds other modules from them): the
/// atomic access above (out of bounds against misaligned), and a stack
/// overflow whose depth, and so what it wrote to memory 0, differs with the
/// transformed module's larger frames (such calls are now left out).
#[test]
fn differential_campaign_findings_hold() -> anyhow::Result<()> {
    let engine = differential::engine();
    for input in [&b"\xb1\x7a\x09"[..], &b"\x78\x2e\x00\xc0\x1d"[..]] {
        let original = smith::sized_module(smith::differential(), input).expect("a module");
        let transformed = multimem_transform::transform(&original, &Options::default())?;
        assert_eq!(differential::compare(&engine, &original, &transformed, smith::seed(input)), Ok(true));
    }
    Ok(())
}
