//! wasm-smith configurations for modules the transformer accepts.

use arbitrary::Unstructured;

/// Every feature the transformer claims, one 32-bit memory (defined; shared or not).
pub fn transformable() -> wasm_smith::Config {
    let mut c = wasm_smith::Config::default();
    c.min_memories = 1;
    c.max_memories = 1;
    c.memory64_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.exceptions_enabled = false;
    c.gc_enabled = false;
    c.tail_call_enabled = false;
    c.wide_arithmetic_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.max_imports = 0;
    c.max_memory32_bytes = 64 << 20;
    c.memory_max_size_required = true;
    c
}

/// For running side by side: deterministic results, exports to call and compare.
pub fn differential() -> wasm_smith::Config {
    let mut c = transformable();
    c.relaxed_simd_enabled = false;
    // wasm-smith then emits typed function references, which this wasmtime
    // build (no `gc` feature) refuses; the transform-and-validate checks keep them.
    c.reference_types_enabled = false;
    c.canonicalize_nans = true;
    c.export_everything = true;
    c.min_funcs = 1;
    c.max_instructions = 200;
    c
}

/// A module from fuzz bytes, or `None` when the bytes run out first.
pub fn module(config: wasm_smith::Config, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(bytes);
    wasm_smith::Module::new(config, &mut u).ok().map(|m| m.to_bytes())
}
