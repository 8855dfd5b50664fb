//! wasm-smith modules with every feature the transformer claims: all transform
//! (but those the checker refuses with a reason: exports named like
//! multimem's own), all outputs validate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use multimem_tests::smith;

fuzz_target!(|data: &[u8]| {
    let Some(module) = smith::sized_module(smith::transformable(), data) else { return };
    if multimem_transform::check(&module).is_err() {
        return;
    }
    let out = multimem_transform::transform(&module, &Default::default()).expect("a valid single-memory module transforms");
    multimem_transform::validate(&out).expect("output validates");
});
