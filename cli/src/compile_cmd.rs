//! `multimem compile IN -o OUT`: transform if the strategy needs it, then
//! compile ahead of time, so that loading maps code instead of compiling it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use multimem_runtime::{Limits, Strategy};
use multimem_transform::{Options, Route};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The module: untransformed (it is transformed for the strategy's form), or already transformed in that form.
    pub input: PathBuf,
    /// Where to write the precompiled prover.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The strategy that will load it: recreate, in-place, view, private-view
    /// (view and private-view load the same file) or baseline (the module as it is).
    #[arg(long, default_value = "recreate")]
    pub strategy: Strategy,
    /// When transforming here: do not route the module's allocator to memory 1 (portable form).
    #[arg(long)]
    pub no_route: bool,
    /// Maximum size of memory 0 in MiB, compiled in: load with the same limit.
    #[arg(long, value_name = "MIB")]
    pub max_memory0: Option<u64>,
    /// Maximum size of memory 1 in MiB, compiled in: load with the same limit.
    #[arg(long, value_name = "MIB")]
    pub max_memory1: Option<u64>,
}

impl Args {
    pub fn limits(&self) -> Limits {
        Limits { memory0_max_bytes: self.max_memory0.map(|m| m << 20), memory1_max_bytes: self.max_memory1.map(|m| m << 20), deadline: None }
    }
}

pub fn run(args: &Args) -> Result<()> {
    let wasm = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let engine = multimem_runtime::engine_for(args.strategy)?;
    let compiled = compile(&engine, &wasm, args.strategy, args.limits(), !args.no_route).with_context(|| format!("{}", args.input.display()))?;
    crate::transform_cmd::write_whole(&args.output, &compiled)
}

/// The precompiled prover for `strategy`: `wasm` transformed first when the
/// strategy runs a transformed module and `wasm` is not one (routed in the
/// portable form if `route`, as `multimem transform` does by default).
pub fn compile(engine: &wasmtime::Engine, wasm: &[u8], strategy: Strategy, limits: Limits, route: bool) -> Result<Vec<u8>> {
    let transformed;
    let module = match strategy.form() {
        Some(form) if multimem_transform::marker(wasm).is_none() => {
            let route = if route && form == multimem_transform::Form::Portable { Route::On } else { Route::Off };
            transformed = multimem_transform::transform(wasm, &Options { form, route, ..Options::default() })?;
            &transformed[..]
        }
        _ => wasm,
    };
    multimem_runtime::precompile(engine, module, strategy, limits)
}
