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

/// Bytes wasm-smith reads for [`sized_module`]: enough for 64 functions of
/// `max_instructions` each.
const SIZED_STREAM: usize = 64 << 10;

/// A module of real size from a short fuzz input. wasm-smith ends each list
/// (types, functions, instructions) at the first byte that says stop, so
/// libFuzzer's short inputs gave modules of one function or none (a
/// campaign's median was 1 function, 0 memory instructions). Here the first
/// byte sets a minimum of 1 to 64 functions, there is at least one function
/// type, and the rest of the input leads a stream that a PRNG seeded by the
/// input extends to 64 KiB: the input steers the module's shape, the PRNG
/// fills the bodies. Median about 32 functions and 500 memory instructions.
pub fn sized_module(mut config: wasm_smith::Config, data: &[u8]) -> Option<Vec<u8>> {
    let (&first, rest) = data.split_first()?;
    config.min_types = config.min_types.max(1);
    config.min_funcs = 1 + usize::from(first % 64);
    config.max_funcs = config.max_funcs.max(config.min_funcs);
    let mut stream = rest.to_vec();
    let mut state = seed(data);
    while stream.len() < SIZED_STREAM {
        stream.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    module(config, &stream)
}

/// A seed for the run-time side of a check (arguments, fuel), from the input.
pub fn seed(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b))
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Defined functions and memory instructions (loads, stores, atomics,
/// `memory.*`): how big a generated module is, in what the transform works on.
pub fn sizes(wasm: &[u8]) -> anyhow::Result<(usize, usize)> {
    let (mut functions, mut accesses) = (0, 0);
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            functions += 1;
            for op in body.get_operators_reader()? {
                let op = format!("{:?}", op?);
                if op.contains("memarg") || op.starts_with("Memory") {
                    accesses += 1;
                }
            }
        }
    }
    Ok((functions, accesses))
}
