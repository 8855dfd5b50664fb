//! The fork strategy on wasm-smith modules: setup persists as on the original,
//! a proof's calls give the original's results, and after each proof memory 0
//! (size, bytes) and the globals are exactly as before it. The fixed-seed
//! version runs in tests/tests/fork_fuzz.rs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multimem_runtime::Strategy;
use multimem_tests::{fork, smith};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static PLAIN: OnceLock<wasmtime::Engine> = OnceLock::new();
    static FORK: OnceLock<wasmtime::Engine> = OnceLock::new();
    let plain = PLAIN.get_or_init(fork::plain_engine);
    let engine = FORK.get_or_init(|| multimem_runtime::engine_for(Strategy::Fork).expect("engine"));
    let Some(wasm) = smith::sized_module(fork::config(), data) else { return };
    let seed = smith::seed(data);
    if let Err(e) = fork::check(plain, engine, &wasm, seed) {
        panic!("{e:#}");
    }
});
