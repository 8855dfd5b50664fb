//! Routing under generated programs: allocations, frees and reallocs on a
//! module with its own allocator, across proof boundaries, checked against a
//! model (where each object lives, its contents through realloc, stale
//! pointers ignored after their proof, memory 0 flat during proofs). The
//! fixed-seed version runs in tests/tests/route.rs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multimem_runtime::Strategy;
use multimem_tests::routing::{self, Op};
use std::sync::OnceLock;

fuzz_target!(|input: (bool, Vec<Op>)| {
    static ENGINE: OnceLock<wasmtime::Engine> = OnceLock::new();
    static ROUTED: OnceLock<Vec<u8>> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| multimem_runtime::engine_for(Strategy::Recreate).expect("engine"));
    let routed = ROUTED.get_or_init(|| routing::routed(false).expect("the fixture routes"));
    let (in_place, ops) = input;
    let strategy = if in_place { Strategy::InPlace } else { Strategy::Recreate };
    if let Err(e) = routing::run_program(engine, routed, strategy, &ops) {
        panic!("{e:#}\n{ops:?}");
    }
});
