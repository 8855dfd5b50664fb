//! Original and transformed in wasmtime, same arguments and fuel: results, traps,
//! globals and all of memory 0 must match. A mismatch becomes a fixture or a case
//! in tests/tests/differential.rs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multimem_tests::{differential, smith};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<differential::Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(differential::engine);
    let Some(original) = smith::sized_module(smith::differential(), data) else { return };
    // A refusal with a reason (an export named like multimem's own) is transform_smith's concern.
    if multimem_transform::check(&original).is_err() {
        return;
    }
    let transformed = multimem_transform::transform(&original, &Default::default()).expect("transforms");
    let seed = smith::seed(data);
    if let Err(difference) = differential::compare(engine, &original, &transformed, seed) {
        panic!("{difference}");
    }
});
