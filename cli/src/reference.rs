//! The reference Groth16 prover (prover-guest/groth16), built by this
//! crate's build script and driven through the runtime.

use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};
use multimem_runtime::{Limits, ProofMetrics, Prover, Strategy};
use multimem_transform::{Form, Options};
use wasmtime::{Engine, Linker, Val};

/// The untransformed reference prover (wasm32-unknown-unknown, release, names kept).
pub const WASM: &[u8] = include_bytes!(env!("MULTIMEM_REFERENCE_WASM"));

/// The reference prover transformed in `form` with default options (done once per process).
pub fn transformed(form: Form) -> &'static [u8] {
    static PORTABLE: OnceLock<Vec<u8>> = OnceLock::new();
    static VIEW: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = match form {
        Form::Portable => &PORTABLE,
        Form::View => &VIEW,
    };
    cell.get_or_init(|| {
        let options = Options { form, ..Options::default() };
        multimem_transform::transform(WASM, &options).expect("the reference prover transforms")
    })
}

/// The module a strategy runs.
pub fn module_for(strategy: Strategy) -> &'static [u8] {
    strategy.form().map_or(WASM, transformed)
}

/// What one proof produced, beyond its bytes.
#[derive(Clone, Debug)]
pub struct ProofOutput {
    pub bytes: Vec<u8>,
    /// Peak live bytes the guest had in memory 1 (0 under the baseline).
    pub ephemeral_peak_live: u64,
    /// Bytes of memory 1 the guest's ephemeral heap took.
    pub ephemeral_high_water: u64,
}

/// The reference prover under one strategy.
pub struct Reference {
    prover: Prover<()>,
}

impl Reference {
    pub fn load(engine: &Engine, strategy: Strategy, limits: Limits) -> Result<Self> {
        Self::load_module(engine, module_for(strategy), strategy, limits)
    }

    /// The reference prover as `wasm`, a build of it in the form `strategy` runs.
    pub fn load_module(engine: &Engine, wasm: &[u8], strategy: Strategy, limits: Limits) -> Result<Self> {
        let linker = Linker::new(engine);
        Ok(Reference { prover: Prover::load(engine, &linker, wasm, strategy, limits)? })
    }

    pub fn prover(&mut self) -> &mut Prover<()> {
        &mut self.prover
    }

    /// A fresh instance with nothing set up (baseline and in-place only).
    pub fn restart(&mut self) -> Result<()> {
        self.prover.restart()
    }

    /// Generates (or selects) the keys for `constraints` constraints, in memory 0.
    pub fn setup(&mut self, constraints: u32) -> Result<()> {
        let status = self.prover.call("setup", &[Val::I32(constraints as i32)])?[0].unwrap_i32();
        ensure!(status == 0, "setup({constraints}) returned status {status}");
        Ok(())
    }

    /// Bytes leaked by each later proof.
    pub fn set_leak(&mut self, bytes: u32) -> Result<()> {
        self.prover.call("set_leak", &[Val::I32(bytes as i32)]).map(drop)
    }

    /// Whether later proofs use an unsatisfied witness (and trap part-way).
    pub fn set_fail(&mut self, fail: bool) -> Result<()> {
        self.prover.call("set_fail", &[Val::I32(fail as i32)]).map(drop)
    }

    /// One proof with seed `seed`; the same seed gives the same bytes.
    pub fn prove(&mut self, seed: u64) -> (Result<ProofOutput>, ProofMetrics) {
        self.prover.prove(|proof| {
            prove_call(proof, seed)?;
            let ptr = proof.call("proof_ptr", &[])?[0].unwrap_i32() as u32;
            let len = proof.call("proof_len", &[])?[0].unwrap_i32() as u32;
            let bytes = proof.read(ptr, len).context("reading the proof")?;
            let ephemeral_peak_live = proof.call("ephemeral_peak_live", &[])?[0].unwrap_i32() as u32 as u64;
            let ephemeral_high_water = proof.call("ephemeral_high_water", &[])?[0].unwrap_i32() as u32 as u64;
            Ok(ProofOutput { bytes, ephemeral_peak_live, ephemeral_high_water })
        })
    }

    /// Memory-0 accesses one proof executes, `(dispatched, direct)`: the module
    /// must be a portable build with [`Options::count_accesses`].
    pub fn count_accesses(&mut self, seed: u64) -> Result<(u64, u64)> {
        self.prover
            .prove(|proof| {
                prove_call(proof, seed)?;
                let mut read = |name: &str| -> Result<u64> {
                    let export = format!("{}{name}", multimem_transform::COUNT_EXPORT_PREFIX);
                    let instance = proof.instance();
                    let global = instance.get_global(proof.store(), &export).with_context(|| format!("no export {export}: not a counting build"))?;
                    Ok(global.get(proof.store()).unwrap_i64() as u64)
                };
                Ok((read("dispatched")?, read("direct")?))
            })
            .0
    }

    /// Checks proof bytes with the verifying key (no proof active).
    pub fn verify(&mut self, bytes: &[u8]) -> Result<bool> {
        self.prover.run(|s| {
            let len = Val::I32(bytes.len() as i32);
            let ptr = s.call("alloc", &[len.clone()])?[0].unwrap_i32();
            s.write(ptr as u32, bytes)?;
            let status = s.call("verify", &[Val::I32(ptr), len.clone()])?[0].unwrap_i32();
            s.call("dealloc", &[Val::I32(ptr), len])?;
            ensure!(status >= 0, "verify returned status {status}");
            Ok(status == 1)
        })
    }
}

fn prove_call(proof: &mut multimem_runtime::Session<'_, ()>, seed: u64) -> Result<()> {
    let status = proof.call("prove", &[Val::I64(seed as i64)])?[0].unwrap_i32();
    ensure!(status == 0, "prove returned status {status}");
    Ok(())
}
