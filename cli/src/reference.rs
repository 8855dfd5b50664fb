//! The guests prover-guest/ builds (the reference Groth16 with and without
//! the SDK, and halo2), built by this crate's build script and driven
//! through the runtime. They share one C ABI: `setup`, `prove`, `proof_ptr`,
//! `proof_len`, `verify`, `set_leak`, `set_fail`, `alloc`, `dealloc`,
//! `ephemeral_peak_live`, `ephemeral_high_water`.

use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use multimem_runtime::{Limits, ProofMetrics, Prover, Strategy};
use multimem_transform::{Form, Options, Route};
use wasmtime::{Engine, Linker, Val};

/// The untransformed reference prover (wasm32-unknown-unknown, release, names kept).
pub const WASM: &[u8] = include_bytes!(env!("MULTIMEM_REFERENCE_WASM"));

/// A prover module with the guests' C ABI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Guest {
    /// arkworks Groth16 over BN254, linked with the multimem guest SDK (the reference prover).
    #[default]
    Groth16,
    /// The same prover without the SDK: std's allocator, no imports.
    Groth16NoSdk,
    /// zcash halo2_proofs 0.4 built unmodified, no SDK.
    Halo2,
}

impl Guest {
    pub const ALL: [Guest; 3] = [Guest::Groth16, Guest::Groth16NoSdk, Guest::Halo2];

    pub fn name(self) -> &'static str {
        match self {
            Guest::Groth16 => "groth16",
            Guest::Groth16NoSdk => "groth16-nosdk",
            Guest::Halo2 => "halo2",
        }
    }

    /// The untransformed module (wasm32-unknown-unknown, release, names kept).
    pub fn wasm(self) -> &'static [u8] {
        match self {
            Guest::Groth16 => WASM,
            Guest::Groth16NoSdk => include_bytes!(env!("MULTIMEM_GROTH16_NOSDK_WASM")),
            Guest::Halo2 => include_bytes!(env!("MULTIMEM_HALO2_WASM")),
        }
    }

    /// The module transformed in `form` with default options (done once per process).
    pub fn transformed(self, form: Form) -> Result<&'static [u8]> {
        static CACHE: [[OnceLock<Result<Vec<u8>, String>>; 2]; 3] = [const { [const { OnceLock::new() }; 2] }; 3];
        let by_form = match form {
            Form::Portable => 0,
            Form::View => 1,
        };
        let by_guest = match self {
            Guest::Groth16 => 0,
            Guest::Groth16NoSdk => 1,
            Guest::Halo2 => 2,
        };
        let cell = &CACHE[by_guest][by_form];
        let wasm = cell.get_or_init(|| {
            // The portable form routes the guest's own allocator (a guest with the SDK routes itself).
            let route = if form == Form::Portable { Route::On } else { Route::Off };
            let options = Options { form, route, ..Options::default() };
            multimem_transform::transform(self.wasm(), &options).map_err(|e| format!("{e:#}"))
        });
        wasm.as_deref().map_err(|e| anyhow!("transforming the {self} guest ({} form): {e}", form.name()))
    }

    /// The module a strategy runs.
    pub fn module_for(self, strategy: Strategy) -> Result<&'static [u8]> {
        strategy.form().map_or(Ok(self.wasm()), |form| self.transformed(form))
    }

    /// What the circuit size counts.
    pub fn size_unit(self) -> &'static str {
        match self {
            Guest::Groth16 | Guest::Groth16NoSdk => "constraints",
            Guest::Halo2 => "rows",
        }
    }

    /// The argument `setup` takes for a circuit of `size`: Groth16 takes the
    /// constraint count, halo2 takes `k` for `size = 2^k` rows.
    pub fn setup_arg(self, size: u32) -> Result<u32> {
        ensure!((16..=1 << 20).contains(&size), "circuit size {size} is outside 16..=2^20");
        match self {
            Guest::Groth16 | Guest::Groth16NoSdk => Ok(size),
            Guest::Halo2 if size.is_power_of_two() => Ok(size.trailing_zeros()),
            Guest::Halo2 => bail!("halo2 circuit sizes are rows, a power of two (1024 is k = 10), not {size}"),
        }
    }
}

impl std::fmt::Display for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Guest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Guest::ALL
            .into_iter()
            .find(|g| g.name() == s)
            .ok_or_else(|| format!("unknown guest `{s}` (expected groth16, groth16-nosdk or halo2)"))
    }
}

/// The reference prover transformed in `form` with default options (done once per process).
pub fn transformed(form: Form) -> &'static [u8] {
    Guest::Groth16.transformed(form).expect("the reference prover transforms")
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
    /// Stores of proof-time pointers into memory 0 logged during the proof
    /// (a module transformed with the escape check), and how many there were.
    pub escapes: (Vec<multimem_runtime::Escape>, u64),
}

/// A guest under one strategy (the reference Groth16 unless loaded with [`Reference::load_guest`]).
pub struct Reference {
    prover: Prover<()>,
    guest: Guest,
}

impl Reference {
    pub fn load(engine: &Engine, strategy: Strategy, limits: Limits) -> Result<Self> {
        Self::load_guest(engine, Guest::Groth16, strategy, limits)
    }

    /// `guest` in the form `strategy` runs.
    pub fn load_guest(engine: &Engine, guest: Guest, strategy: Strategy, limits: Limits) -> Result<Self> {
        Self::load_module(engine, guest, guest.module_for(strategy)?, strategy, limits)
    }

    /// `guest` as `wasm`, a build of it in the form `strategy` runs.
    pub fn load_module(engine: &Engine, guest: Guest, wasm: &[u8], strategy: Strategy, limits: Limits) -> Result<Self> {
        Self::load_linked(engine, guest, wasm, &Linker::new(engine), strategy, limits)
    }

    /// [`Reference::load_module`] of a build that imports functions of its own, served by `linker`.
    pub fn load_linked(engine: &Engine, guest: Guest, wasm: &[u8], linker: &Linker<()>, strategy: Strategy, limits: Limits) -> Result<Self> {
        let prover = Prover::load(engine, linker, wasm, strategy, limits).with_context(|| format!("loading the {guest} guest"))?;
        Ok(Reference { prover, guest })
    }

    /// `guest` from a precompiled prover (`multimem compile`) made for `strategy` and `limits`.
    ///
    /// # Safety
    ///
    /// [`Prover::load_precompiled`]'s: `path` was written by `multimem compile`
    /// (or [`multimem_runtime::precompile`]) and is not modified in place while loaded.
    pub unsafe fn load_precompiled(engine: &Engine, guest: Guest, path: &std::path::Path, strategy: Strategy, limits: Limits) -> Result<Self> {
        let linker = Linker::new(engine);
        // SAFETY: the caller's contract is the one stated above.
        let prover = unsafe { Prover::load_precompiled(engine, &linker, path, strategy, limits) }.with_context(|| format!("loading the {guest} guest"))?;
        Ok(Reference { prover, guest })
    }

    pub fn guest(&self) -> Guest {
        self.guest
    }

    pub fn prover(&mut self) -> &mut Prover<()> {
        &mut self.prover
    }

    /// A fresh instance with nothing set up (baseline and in-place only).
    pub fn restart(&mut self) -> Result<()> {
        self.prover.restart()
    }

    /// Generates (or selects) the keys for a circuit of `size` (constraints,
    /// or rows for halo2), in memory 0.
    pub fn setup(&mut self, size: u32) -> Result<()> {
        let arg = self.guest.setup_arg(size)?;
        let status = self.prover.call("setup", &[Val::I32(arg as i32)])?[0].unwrap_i32();
        ensure!(status == 0, "{} setup({arg}) returned status {status}", self.guest);
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
            // The heap's header in memory 1 (the SDK's or the routed one), else what the guest says.
            let (ephemeral_peak_live, ephemeral_high_water) = match proof.heap() {
                Some(heap) => (heap.peak_live, heap.high_water),
                None => (
                    proof.call("ephemeral_peak_live", &[])?[0].unwrap_i32() as u32 as u64,
                    proof.call("ephemeral_high_water", &[])?[0].unwrap_i32() as u32 as u64,
                ),
            };
            let escapes = (proof.escapes(), proof.heap().map_or(0, |h| h.escapes));
            Ok(ProofOutput { bytes, ephemeral_peak_live, ephemeral_high_water, escapes })
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
