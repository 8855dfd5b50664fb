//! Arbitrary bytes: the transformer returns an error or a module that validates; it never panics or hangs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = multimem_transform::transform(data, &Default::default()) {
        multimem_transform::validate(&out).expect("an accepted module's output validates");
    }
});
