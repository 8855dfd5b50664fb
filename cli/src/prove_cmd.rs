//! `multimem prove`: run a guest prover K times under a strategy and report memory per proof.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use multimem_runtime::{Limits, ProofMetrics, Strategy};
use serde_json::json;

use crate::reference::{Guest, Reference};

#[derive(Parser, Clone, Debug)]
pub struct Args {
    /// The prover: groth16 (reference, with the guest SDK), groth16-nosdk (same, std's allocator), halo2 (zcash halo2_proofs, unmodified).
    #[arg(long, default_value = "groth16")]
    pub guest: Guest,
    /// Circuit size, 2^4..=2^20: constraints (groth16), rows (halo2: a power of two, 1024 is k = 10).
    #[arg(long, visible_alias = "rows", default_value_t = 1 << 12)]
    pub constraints: u32,
    /// Number of proofs.
    #[arg(long, default_value_t = 10)]
    pub proofs: u32,
    /// recreate (memory 1 dropped per proof), in-place (pages released), baseline (untransformed),
    /// view / private-view (memory 1 a view of memory 0, no dispatch; Linux),
    /// fork (any guest, no SDK: each proof in a private copy-on-write view whose growth is its own; Linux).
    #[arg(long, default_value = "recreate")]
    pub strategy: Strategy,
    /// Bytes each proof leaks (allocated, written, never freed).
    #[arg(long, default_value_t = 0)]
    pub leak: u32,
    /// Make every M-th proof trap part-way (an unsatisfied witness).
    #[arg(long, value_name = "M")]
    pub fail_every: Option<u32>,
    /// Alternate the circuit between N and N/2 constraints from proof to proof (fragmentation).
    #[arg(long)]
    pub mixed: bool,
    /// Maximum size of memory 1 in MiB.
    #[arg(long, value_name = "MIB")]
    pub max_memory1: Option<u64>,
    /// Maximum size of memory 0 in MiB (to see when a leaking prover runs out).
    #[arg(long, value_name = "MIB")]
    pub max_memory0: Option<u64>,
    /// Seed of the first proof (later proofs count up from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Per-proof deadline in milliseconds.
    #[arg(long, value_name = "MS")]
    pub deadline: Option<u64>,
    /// Transform with the escape check and report, per proof, the stores of
    /// proof-time pointers into memory 0 and the functions that made them
    /// (portable strategies; a guest without the SDK is routed).
    #[arg(long)]
    pub check_escapes: bool,
    /// Load the prover from this file made by `multimem compile` for the same
    /// strategy and memory limits, instead of transforming and compiling it (`--guest` still names its exports).
    #[arg(long, value_name = "FILE", conflicts_with = "check_escapes")]
    pub precompiled: Option<std::path::PathBuf>,
    /// One JSON object per proof per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The circuit size of proof `proof` (from 1) in the mixed workload.
pub fn mixed_size(constraints: u32, proof: u32) -> u32 {
    if proof % 2 == 0 { constraints / 2 } else { constraints }
}

impl Args {
    fn limits(&self) -> Limits {
        Limits {
            memory0_max_bytes: self.max_memory0.map(|m| m << 20),
            memory1_max_bytes: self.max_memory1.map(|m| m << 20),
            deadline: self.deadline.map(Duration::from_millis),
        }
    }
}

/// One proof as reported.
#[derive(Clone, Debug)]
pub struct Record {
    pub proof: u32,
    pub strategy: Strategy,
    pub ok: bool,
    pub verified: bool,
    pub error: Option<String>,
    pub metrics: ProofMetrics,
    /// Escapes logged (function and address, at most 512) and how many there were.
    pub escapes: (Vec<String>, u64),
    /// Peak live bytes of the guest's ephemeral heap, and how much of memory 1 it took.
    pub ephemeral: Option<(u64, u64)>,
}

impl Record {
    pub fn to_json(&self) -> serde_json::Value {
        let m = &self.metrics;
        json!({
            "proof": self.proof,
            "strategy": self.strategy.name(),
            "ok": self.ok,
            "verified": self.verified,
            "error": self.error,
            "wall_ms": m.wall.as_secs_f64() * 1e3,
            "reset_us": m.reset().as_secs_f64() * 1e6,
            "create_us": m.create.as_secs_f64() * 1e6,
            "drop_us": m.drop.as_secs_f64() * 1e6,
            "memory0_pages": m.memory0_pages,
            "memory1_peak_pages": m.memory1_peak_pages,
            "memory0_proof_pages": m.memory0_proof_pages,
            "cow_pages": m.cow_pages,
            "fresh_pages": m.fresh_pages,
            "rss_bytes": m.rss_bytes,
            "ephemeral_peak_live_bytes": self.ephemeral.map(|e| e.0),
            "ephemeral_high_water_bytes": self.ephemeral.map(|e| e.1),
            "escapes": self.escapes.1,
            "escapes_logged": self.escapes.0,
        })
    }
}

/// What one proof under a [`Reference`] gave.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub ok: bool,
    pub verified: bool,
    pub error: Option<String>,
    pub metrics: ProofMetrics,
    pub ephemeral: Option<(u64, u64)>,
    /// Escapes logged and how many there were (see [`crate::reference::ProofOutput::escapes`]).
    pub escapes: (Vec<multimem_runtime::Escape>, u64),
}

/// Whether proof `proof` (from 1) is one the trap workload makes fail.
pub fn traps(fail_every: Option<u32>, proof: u32) -> bool {
    fail_every.is_some_and(|m| m > 0 && proof % m == 0)
}

/// One proof: select the circuit `size` (when given), set the trap knob,
/// prove, verify. Every failure, before the proof too (a prover whose memory
/// 0 is full fails there as well), becomes the outcome's error.
pub fn prove_once(reference: &mut Reference, seed: u64, fail: bool, size: Option<u32>) -> Outcome {
    let before = reference.set_fail(fail).and_then(|()| size.map_or(Ok(()), |n| reference.setup(n)));
    if let Err(e) = before {
        return Outcome { error: Some(format!("before the proof: {e:#}")), ..Outcome::default() };
    }
    let (output, metrics) = reference.prove(seed);
    let ephemeral = output.as_ref().ok().map(|out| (out.ephemeral_peak_live, out.ephemeral_high_water));
    let escapes = output.as_ref().map(|out| out.escapes.clone()).unwrap_or_default();
    let (verified, error) = match output {
        Ok(out) => match reference.verify(&out.bytes) {
            Ok(v) => (v, None),
            Err(e) => (false, Some(format!("verify: {e:#}"))),
        },
        Err(e) => (false, Some(format!("{e:#}"))),
    };
    Outcome { ok: error.is_none(), verified, error, metrics, ephemeral, escapes }
}

/// Sets up the guest and runs `args.proofs` proofs, calling `each` after every one.
pub fn run_proofs(args: &Args, each: impl FnMut(&Record)) -> Result<Vec<Record>> {
    run_proofs_timed(args, |_| {}, each)
}

/// [`run_proofs`], telling `setup_done` how long setup took (the module's compile and transform not counted).
pub fn run_proofs_timed(args: &Args, setup_done: impl FnOnce(Duration), mut each: impl FnMut(&Record)) -> Result<Vec<Record>> {
    args.guest.setup_arg(args.constraints)?;
    let engine = multimem_runtime::engine_for(args.strategy)?;
    let (mut reference, sites) = if args.check_escapes {
        let options = multimem_transform::Options { route: multimem_transform::Route::On, check_escapes: true, ..Default::default() };
        anyhow::ensure!(args.strategy.form() == Some(multimem_transform::Form::Portable), "--check-escapes needs a portable strategy (recreate or in-place)");
        let wasm = multimem_transform::transform(args.guest.wasm(), &options)?;
        let sites = multimem_transform::escapes::sites(&wasm);
        (Reference::load_module(&engine, args.guest, &wasm, args.strategy, args.limits())?, sites)
    } else if let Some(path) = &args.precompiled {
        // SAFETY: the user names the file as one `multimem compile` wrote: code
        // they built, trusted like this binary. Before wasmtime maps it, its
        // checksum, the strategy and limits, and the engine's fingerprint are
        // checked, so a damaged or foreign file is refused rather than run;
        // `multimem compile` replaces a file by renaming a new one over it, so
        // compiling again never rewrites the pages this process has mapped.
        (unsafe { Reference::load_precompiled(&engine, args.guest, path, args.strategy, args.limits())? }, Vec::new())
    } else {
        (Reference::load_guest(&engine, args.guest, args.strategy, args.limits())?, Vec::new())
    };
    let start = Instant::now();
    reference.setup(args.constraints)?;
    setup_done(start.elapsed());
    reference.set_leak(args.leak)?;
    let mut records = Vec::new();
    for proof in 1..=args.proofs {
        let size = args.mixed.then(|| mixed_size(args.constraints, proof));
        let seed = args.seed + u64::from(proof) - 1;
        let Outcome { ok, verified, error, metrics, ephemeral, escapes } =
            prove_once(&mut reference, seed, traps(args.fail_every, proof), size);
        let named = escapes.0.iter().map(|e| format!("{} at {:#x}", sites.get(e.site as usize).map_or("?", String::as_str), e.address)).collect();
        let record = Record { proof, strategy: args.strategy, ok, verified, error, metrics, escapes: (named, escapes.1), ephemeral };
        each(&record);
        records.push(record);
    }
    Ok(records)
}

pub fn run(args: &Args) -> Result<()> {
    args.guest.setup_arg(args.constraints)?;
    if args.json {
        run_proofs(args, |r| println!("{}", r.to_json()))?;
    } else {
        println!(
            "{} guest, {} strategy, 2^{:.1} {}, {} proofs, leak {} B/proof{}",
            args.guest,
            args.strategy.name(),
            (args.constraints as f64).log2(),
            args.guest.size_unit(),
            args.proofs,
            args.leak,
            args.fail_every.map(|m| format!(", every {m}th proof traps")).unwrap_or_default()
        );
        let setup_done = |d: Duration| println!("setup {:.1} ms\n{HEADER}", d.as_secs_f64() * 1e3);
        run_proofs_timed(args, setup_done, |r| {
            println!("{}", row(r));
            if args.check_escapes {
                println!("       escapes: {}{}", r.escapes.1, if r.escapes.0.is_empty() { String::new() } else { format!(" ({})", r.escapes.0.join(", ")) });
            }
        })?;
    }
    Ok(())
}

const HEADER: &str = "proof  ok   verified   wall ms   reset us   mem0 MiB  mem1 peak MiB   RSS MiB  error";

fn row(r: &Record) -> String {
    let m = &r.metrics;
    format!(
        "{:>5}  {:<3}  {:<8} {:>9.1} {:>10.1} {:>10.1} {:>14.1} {:>9.1}  {}",
        r.proof,
        if r.ok { "yes" } else { "no" },
        if r.verified { "yes" } else { "no" },
        m.wall.as_secs_f64() * 1e3,
        m.reset().as_secs_f64() * 1e6,
        mib(m.memory0_pages * 65536),
        mib(m.memory1_peak_pages * 65536),
        mib(m.rss_bytes),
        r.error.as_deref().unwrap_or("")
    )
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The README's main command: baseline and recreate side by side on a
/// leaking, sometimes trapping workload, showing memory 0 staying flat.
pub fn demo() -> Result<()> {
    let base = Args {
        guest: Guest::Groth16,
        constraints: 1 << 12,
        proofs: 12,
        strategy: Strategy::Baseline,
        leak: 16 << 20,
        fail_every: Some(4),
        mixed: false,
        max_memory1: None,
        max_memory0: None,
        deadline: None,
        seed: 1,
        check_escapes: false,
        precompiled: None,
        json: false,
    };
    println!("multimem demo: reference Groth16 prover (BN254, 2^12 constraints), 12 proofs,");
    println!("each leaking 16 MiB, every 4th trapping part-way. Memory 0 holds the keys.\n");
    let mut summary = Vec::new();
    for strategy in [Strategy::Baseline, Strategy::Recreate] {
        let args = Args { strategy, ..base.clone() };
        println!("== {} ==", strategy.name());
        println!("{HEADER}");
        let records = run_proofs(&args, |r| println!("{}", row(r)))?;
        let first = records.first().map_or(0, |r| r.metrics.memory0_pages * 65536);
        let last = records.last().map_or(0, |r| r.metrics.memory0_pages * 65536);
        let verified = records.iter().filter(|r| r.verified).count();
        summary.push(format!(
            "{:>9}: memory 0 {:>7.1} MiB after proof 1, {:>7.1} MiB after proof {}; {verified} proofs verified",
            strategy.name(),
            mib(first),
            mib(last),
            records.len()
        ));
        println!();
    }
    println!("{}", summary.join("\n"));
    Ok(())
}
