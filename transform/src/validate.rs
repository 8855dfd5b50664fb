//! The last step: the output must validate before anybody gets it. Also
//! names the function and offset when an input is invalid.

use anyhow::{anyhow, Result};
use rayon::prelude::*;
use wasmparser::{FuncValidatorAllocations, Parser, ValidPayload, Validator, WasmFeatures};

/// Features a transformed module may use: the input's plus multi-memory.
pub fn features() -> WasmFeatures {
    WasmFeatures::default()
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::THREADS
        | WasmFeatures::SIMD
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::EXCEPTIONS
}

/// Validates `wasm`, function bodies in parallel; errors name the function and byte offset.
pub fn validate(wasm: &[u8]) -> Result<()> {
    let mut validator = Validator::new_with_features(features());
    let mut functions = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| anyhow!("malformed module: {e}"))?;
        match validator.payload(&payload).map_err(|e| anyhow!("invalid module: {e}"))? {
            ValidPayload::Func(func, body) => functions.push((func, body)),
            ValidPayload::Ok | ValidPayload::End(_) | ValidPayload::Parser(_) => {}
        }
    }
    functions.into_par_iter().try_for_each_init(FuncValidatorAllocations::default, |allocs, (func, body)| {
        let index = func.index;
        let mut v = func.into_validator(std::mem::take(allocs));
        v.validate(&body).map_err(|e| anyhow!("invalid module: function {index}: {e}"))?;
        *allocs = v.into_allocations();
        Ok(())
    })
}
