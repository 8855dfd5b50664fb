//! Generated pointer programs (stack frames, parameters of either memory,
//! loops, pointers round-tripping through memory) against the one-memory
//! model: covers provenance and the versioned copies of functions.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multimem_tests::pointers;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<pointers::Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(pointers::Engine::default);
    let seed = multimem_tests::smith::seed(data);
    if let Err(difference) = pointers::check(engine, seed) {
        panic!("{difference}");
    }
});
