//! `multimem bench`: every way to get a prover's memory back, side by side in one run.
//!
//! Approaches run interleaved proof by proof on the same seeds, so machine
//! noise hits all of them alike; ratios are computed within the run.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use multimem_runtime::{rss_bytes, Limits, Strategy};
use serde_json::json;

use crate::prove_cmd::{prove_once, traps};
use crate::reference::{Guest, Reference};

/// How a prover gets its memory back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approach {
    /// One of the runtime's strategies (baseline, recreate, in-place, view, private-view, fork).
    Runtime(Strategy),
    /// Untransformed; a new instance per proof with setup replayed.
    Proxy,
    /// A child `multimem prove` process per proof, setup done in the child.
    Process,
    /// fork() of a process that has done setup, one child process per proof (Unix).
    ForkProcess,
}

impl Approach {
    pub const ALL: [Approach; 9] = [
        Approach::Runtime(Strategy::Baseline),
        Approach::Runtime(Strategy::Recreate),
        Approach::Runtime(Strategy::InPlace),
        Approach::Runtime(Strategy::View),
        Approach::Runtime(Strategy::PrivateView),
        Approach::Runtime(Strategy::Fork),
        Approach::Proxy,
        Approach::Process,
        Approach::ForkProcess,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Approach::Runtime(s) => s.name(),
            Approach::Proxy => "proxy",
            Approach::Process => "process",
            Approach::ForkProcess => "fork-process",
        }
    }
}

impl std::fmt::Display for Approach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Approach {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Approach::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            format!("unknown approach `{s}` (expected baseline, recreate, in-place, view, private-view, fork, proxy, process or fork-process)")
        })
    }
}

#[derive(Parser, Clone, Debug)]
pub struct Args {
    /// The prover: groth16 (reference, with the guest SDK), groth16-nosdk (same, std's allocator), halo2 (zcash halo2_proofs, unmodified).
    #[arg(long, default_value = "groth16")]
    pub guest: Guest,
    /// Circuit sizes, comma-separated: constraints (groth16), rows (halo2: powers of two).
    #[arg(long, value_delimiter = ',', default_values_t = [1u32 << 10, 1 << 12, 1 << 14, 1 << 16])]
    pub sizes: Vec<u32>,
    /// Proofs per approach and size.
    #[arg(long, default_value_t = 5)]
    pub proofs: u32,
    /// Approaches to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = Approach::ALL.to_vec())]
    pub approaches: Vec<Approach>,
    /// Bytes each proof leaks (the leak workload).
    #[arg(long, default_value_t = 0)]
    pub leak: u32,
    /// Every M-th proof traps part-way (the trap workload).
    #[arg(long, value_name = "M")]
    pub fail_every: Option<u32>,
    /// Cap every prover's memory 0 (and a child process's) at this many MiB, to count proofs until memory runs out.
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<u64>,
    /// Alternate the circuit between N and N/2 constraints from proof to proof (the mixed workload).
    #[arg(long)]
    pub mixed: bool,
    /// One JSON object per approach and size instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write a chart of RSS against proof number (largest size) to this file: SVG, or PNG for a `.png` name.
    /// Repeat it to draw the same measurements into several files.
    #[arg(long, value_name = "FILE")]
    pub plot: Vec<PathBuf>,
    /// Soak instead: this many proofs in one process under one strategy (the first
    /// of `--approaches` that is one, else recreate) at the smallest size, with
    /// `--leak` and `--fail-every` mixed in; memory 0, memory 1's peak and RSS every 100 proofs.
    #[arg(long, value_name = "PROOFS")]
    pub soak: Option<u32>,
    /// With `--soak`: stop at the first sample after this many seconds (the proofs run so far are reported).
    #[arg(long, value_name = "SECONDS", requires = "soak")]
    pub soak_budget: Option<u64>,
    /// Measure start-up instead of proofs: for each strategy among the
    /// approaches, load time (transform and compile at load, against a file
    /// from `multimem compile`) and resident memory after load and after setup
    /// at the first size, against the baseline's; each start in a process of its own.
    #[arg(long)]
    pub startup: bool,
    /// The `multimem` executable the process approach spawns (default: this one).
    #[arg(long, hide = true)]
    pub exe: Option<PathBuf>,
    /// A `--startup` child: start this strategy once and print what it cost.
    #[arg(long, hide = true)]
    pub probe: Option<Strategy>,
    /// A `--startup` child's precompiled prover.
    #[arg(long, hide = true)]
    pub probe_precompiled: Option<PathBuf>,
}

/// One proof as measured under one approach.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub ok: bool,
    /// The failure was the trap workload's, not the prover running out of something.
    pub injected: bool,
    pub verified: bool,
    pub wall: Duration,
    /// Getting a fresh prover: memory 1 created and dropped, an instance with
    /// setup replayed, a process spawned and set up, or a fork.
    pub fresh: Duration,
    pub memory0_pages: u64,
    pub memory1_peak_pages: u64,
    /// RSS after the proof, of the process that ran it.
    pub rss_bytes: u64,
}

/// Summary of one approach at one size.
#[derive(Clone, Debug)]
pub struct Summary {
    pub guest: Guest,
    pub approach: Approach,
    /// Circuit size: constraints, or rows for halo2.
    pub constraints: u32,
    pub samples: Vec<Sample>,
    /// Median proof time over the baseline's, when the baseline ran.
    pub ratio: Option<f64>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A prover under one approach at one size.
enum Runner {
    InProcess(Reference),
    Proxy(Reference),
    Process { exe: PathBuf },
    Fork(Reference),
}

impl Runner {
    fn new(engine: &wasmtime::Engine, approach: Approach, constraints: u32, args: &Args) -> Result<Runner> {
        let limits = Limits { memory0_max_bytes: args.memory_limit.map(|m| m << 20), ..Limits::default() };
        let loaded = |strategy| -> Result<Reference> {
            let mut r = Reference::load_guest(engine, args.guest, strategy, limits)?;
            r.setup(constraints)?;
            r.set_leak(args.leak)?;
            Ok(r)
        };
        Ok(match approach {
            Approach::Runtime(strategy) => Runner::InProcess(loaded(strategy)?),
            Approach::Proxy => Runner::Proxy(loaded(Strategy::Baseline)?),
            Approach::ForkProcess => Runner::Fork(loaded(Strategy::Baseline)?),
            Approach::Process => Runner::Process {
                exe: match &args.exe {
                    Some(exe) => exe.clone(),
                    None => std::env::current_exe().context("locating the multimem executable")?,
                },
            },
        })
    }

    fn prove(&mut self, seed: u64, fail: bool, constraints: u32, args: &Args) -> Result<Sample> {
        match self {
            Runner::InProcess(r) => Ok(in_process(r, seed, fail, args.mixed.then_some(constraints))),
            Runner::Proxy(r) => {
                let start = Instant::now();
                r.restart()?;
                r.setup(constraints)?;
                r.set_leak(args.leak)?;
                let fresh = start.elapsed();
                Ok(Sample { fresh, ..in_process(r, seed, fail, None) })
            }
            Runner::Process { exe } => in_child_process(exe, args.guest, seed, fail, constraints, args.leak, args.memory_limit),
            Runner::Fork(r) => {
                // In the parent, so each circuit's keys are generated once, not in every child.
                if args.mixed {
                    r.setup(constraints)?;
                }
                in_fork(r, seed, fail)
            }
        }
    }
}

fn in_process(r: &mut Reference, seed: u64, fail: bool, size: Option<u32>) -> Sample {
    let outcome = prove_once(r, seed, fail, size);
    let m = outcome.metrics;
    Sample {
        ok: outcome.ok,
        injected: false,
        verified: outcome.verified,
        wall: m.wall,
        fresh: m.reset(),
        memory0_pages: m.memory0_pages,
        memory1_peak_pages: m.memory1_peak_pages,
        rss_bytes: m.rss_bytes,
    }
}

/// One `multimem prove --proofs 1` child; its setup counts as the fresh-prover cost.
fn in_child_process(exe: &PathBuf, guest: Guest, seed: u64, fail: bool, constraints: u32, leak: u32, memory_limit: Option<u64>) -> Result<Sample> {
    let start = Instant::now();
    let mut command = Command::new(exe);
    command.args(["prove", "--guest", guest.name(), "--strategy", "baseline", "--json", "--proofs", "1"]);
    command.args(["--constraints", &constraints.to_string(), "--leak", &leak.to_string(), "--seed", &seed.to_string()]);
    if let Some(mib) = memory_limit {
        command.args(["--max-memory0", &mib.to_string()]);
    }
    if fail {
        command.args(["--fail-every", "1"]);
    }
    let out = command.output().with_context(|| format!("spawning {}", exe.display()))?;
    let total = start.elapsed();
    ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading the child's JSON")?;
    let wall = Duration::from_secs_f64(record["wall_ms"].as_f64().unwrap_or(0.0) / 1e3);
    Ok(Sample {
        ok: record["ok"].as_bool().unwrap_or(false),
        injected: false,
        verified: record["verified"].as_bool().unwrap_or(false),
        wall,
        fresh: total.saturating_sub(wall),
        memory0_pages: record["memory0_pages"].as_u64().unwrap_or(0),
        memory1_peak_pages: 0,
        rss_bytes: record["rss_bytes"].as_u64().unwrap_or(0),
    })
}

/// fork() a child that proves once and reports through a pipe; the parent keeps its state.
#[cfg(unix)]
fn in_fork(r: &mut Reference, seed: u64, fail: bool) -> Result<Sample> {
    let mut fds = [0; 2];
    // SAFETY: plain pipe(2).
    ensure!(unsafe { libc::pipe(fds.as_mut_ptr()) } == 0, "pipe failed");
    let forked = Instant::now();
    // SAFETY: the child only runs the prover (no other thread's locks are needed: the
    // runtime starts no threads without a deadline) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let fresh = forked.elapsed();
        let s = in_process(r, seed, fail, None);
        let line = format!("{} {} {} {} {} {}", s.ok, s.verified, s.wall.as_nanos(), fresh.as_nanos(), s.memory0_pages, rss_bytes());
        // SAFETY: writing our own buffer to our own pipe, then leaving without unwinding.
        unsafe {
            libc::write(fds[1], line.as_ptr().cast(), line.len());
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    ensure!(pid > 0, "fork failed");
    let mut report = String::new();
    // SAFETY: fds[0] is ours; File takes it over and closes it.
    let mut reader = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
    reader.read_to_string(&mut report)?;
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let f: Vec<&str> = report.split(' ').collect();
    ensure!(f.len() == 6, "forked child reported {report:?}");
    let nanos = |s: &str| Duration::from_nanos(s.parse().unwrap_or(0));
    Ok(Sample {
        ok: f[0] == "true",
        injected: false,
        verified: f[1] == "true",
        wall: nanos(f[2]),
        fresh: nanos(f[3]),
        memory0_pages: f[4].parse().unwrap_or(0),
        memory1_peak_pages: 0,
        rss_bytes: f[5].parse().unwrap_or(0),
    })
}

#[cfg(not(unix))]
fn in_fork(_: &mut Reference, _: u64, _: bool) -> Result<Sample> {
    anyhow::bail!("fork needs a Unix host")
}

/// One engine per kind the approaches need (the view strategies have their own), made once.
#[derive(Default)]
struct Engines(Vec<(Strategy, wasmtime::Engine)>);

impl Engines {
    fn get(&mut self, approach: Approach) -> Result<wasmtime::Engine> {
        let kind = match approach {
            Approach::Runtime(s @ (Strategy::View | Strategy::PrivateView | Strategy::Fork)) => s,
            _ => Strategy::Recreate,
        };
        if let Some((_, e)) = self.0.iter().find(|(k, _)| *k == kind) {
            return Ok(e.clone());
        }
        let engine = multimem_runtime::engine_for(kind)?;
        self.0.push((kind, engine.clone()));
        Ok(engine)
    }
}

/// Runs the benchmark and returns one summary per approach and size.
pub fn measure(args: &Args, mut progress: impl FnMut(&str)) -> Result<Vec<Summary>> {
    ensure!(args.proofs > 0 && !args.approaches.is_empty(), "nothing to measure");
    for &size in &args.sizes {
        args.guest.setup_arg(size)?;
    }
    let mut engines = Engines::default();
    let mut summaries = Vec::new();
    for &constraints in &args.sizes {
        let mut runners = Vec::new();
        for &approach in &args.approaches {
            progress(&format!("2^{:.0} {}: setting up {approach}", (constraints as f64).log2(), args.guest.size_unit()));
            let engine = engines.get(approach)?;
            runners.push((approach, Runner::new(&engine, approach, constraints, args)?, Vec::new()));
        }
        for proof in 1..=args.proofs {
            progress(&format!("2^{:.0} {}: proof {proof}/{}", (constraints as f64).log2(), args.guest.size_unit(), args.proofs));
            let fail = traps(args.fail_every, proof);
            let size = if args.mixed { crate::prove_cmd::mixed_size(constraints, proof) } else { constraints };
            for (approach, runner, samples) in &mut runners {
                // A prover that ran out of memory fails outside the proof too: a failed sample, not the end of the run.
                let sample = runner.prove(u64::from(proof), fail, size, args).unwrap_or_else(|e| {
                    eprintln!("\n{approach} proof {proof}: {e:#}");
                    Sample::default()
                });
                samples.push(Sample { injected: fail && !sample.ok, ..sample });
            }
        }
        let baseline = runners
            .iter()
            .find(|r| r.0 == Approach::Runtime(Strategy::Baseline))
            .map(|r| median(r.2.iter().filter(|s| s.ok).map(|s| s.wall).collect()));
        for (approach, _, samples) in runners {
            let mut summary = Summary { guest: args.guest, approach, constraints, samples, ratio: None };
            summary.ratio = baseline.map(|b| summary.median_wall().as_secs_f64() / b.as_secs_f64());
            summaries.push(summary);
        }
    }
    Ok(summaries)
}

impl Summary {
    /// Proofs that succeeded before the first failure the trap workload did not cause (all of them if none).
    pub fn completed_before_failure(&self) -> usize {
        let end = self.samples.iter().position(|s| !s.ok && !s.injected).unwrap_or(self.samples.len());
        self.samples[..end].iter().filter(|s| s.ok).count()
    }

    pub fn median_wall(&self) -> Duration {
        median(self.samples.iter().filter(|s| s.ok).map(|s| s.wall).collect())
    }

    pub fn to_json(&self) -> serde_json::Value {
        let ok: Vec<&Sample> = self.samples.iter().filter(|s| s.ok).collect();
        let walls: Vec<f64> = ok.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
        let last = self.samples.last().copied().unwrap_or_default();
        json!({
            "guest": self.guest.name(),
            "approach": self.approach.name(),
            "constraints": self.constraints,
            "proofs": self.samples.len(),
            "ok": ok.len(),
            "verified": self.samples.iter().filter(|s| s.verified).count(),
            "completed_before_failure": self.completed_before_failure(),
            "median_wall_ms": self.median_wall().as_secs_f64() * 1e3,
            "min_wall_ms": walls.iter().cloned().fold(f64::INFINITY, f64::min),
            "max_wall_ms": walls.iter().cloned().fold(0.0, f64::max),
            "ratio_to_baseline": self.ratio,
            "median_fresh_us": median(self.samples.iter().map(|s| s.fresh).collect()).as_secs_f64() * 1e6,
            "memory0_pages": last.memory0_pages,
            "memory1_peak_pages": self.samples.iter().map(|s| s.memory1_peak_pages).max().unwrap_or(0),
            "rss_bytes_last": last.rss_bytes,
            "rss_bytes_peak": self.samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0),
            "rss_bytes": self.samples.iter().map(|s| s.rss_bytes).collect::<Vec<_>>(),
        })
    }
}

/// RSS per proof at the largest size, each approach in a process of its own:
/// here they share one process (and fork children inherit it), so the table's
/// RSS cannot tell them apart. Runtime strategies rerun as `multimem prove`
/// children; proxy, process and fork as `multimem bench` children of their own.
fn isolated_rss(args: &Args, summaries: &[Summary]) -> Result<Vec<(String, Vec<u64>)>> {
    let size = args.sizes.iter().copied().max().unwrap_or(0);
    let exe = match &args.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()?,
    };
    let mut series = Vec::new();
    for s in summaries.iter().filter(|s| s.constraints == size) {
        let mut command = Command::new(&exe);
        match s.approach {
            Approach::Runtime(strategy) => command.args(["prove", "--strategy", strategy.name()]),
            _ => command.args(["bench", "--approaches", s.approach.name(), "--sizes", &size.to_string()]),
        };
        command.args(["--guest", args.guest.name(), "--json", "--proofs", &args.proofs.to_string(), "--leak", &args.leak.to_string()]);
        if let Some(m) = args.fail_every {
            command.args(["--fail-every", &m.to_string()]);
        }
        if args.mixed {
            command.arg("--mixed");
        }
        if let Some(mib) = args.memory_limit {
            command.args([if matches!(s.approach, Approach::Runtime(_)) { "--max-memory0" } else { "--memory-limit" }, &mib.to_string()]);
        }
        let out = command.output().context("running a `multimem` child")?;
        ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        let records = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(serde_json::from_str::<serde_json::Value>)
            .collect::<Result<Vec<_>, _>>()?;
        let rss = match s.approach {
            Approach::Runtime(_) => records.iter().map(|r| r["rss_bytes"].as_u64().unwrap_or(0)).collect(),
            _ => records
                .first()
                .and_then(|r| r["rss_bytes"].as_array())
                .map(|a| a.iter().map(|v| v.as_u64().unwrap_or(0)).collect())
                .unwrap_or_default(),
        };
        series.push((s.approach.name().to_owned(), rss));
    }
    Ok(series)
}

/// Size and compile time of a module the approaches run.
#[derive(Clone, Debug)]
pub struct ModuleCost {
    /// `original`, or the form of the transformed module.
    pub module: &'static str,
    /// Code section bytes (the untransformed guest also carries 1.5 MB of DWARF that walrus drops).
    pub code_bytes: usize,
    /// Median time of `wasmtime::Module::new`.
    pub compile: Duration,
    /// Of the memory-0 accesses one proof executes, the share that dispatches
    /// (portable form; counted by an instrumented build, at the smallest size).
    pub dispatched: Option<f64>,
}

/// The untransformed guest and each transformed form the approaches use,
/// compiled interleaved three times (the transform itself is not counted).
pub fn module_costs(guest: Guest, approaches: &[Approach], size: u32) -> Result<Vec<ModuleCost>> {
    let mut modules = vec![("original", guest.wasm())];
    for form in [multimem_transform::Form::Portable, multimem_transform::Form::View] {
        if approaches.iter().any(|a| matches!(a, Approach::Runtime(s) if s.form() == Some(form))) {
            modules.push((form.name(), guest.transformed(form)?));
        }
    }
    let engine = multimem_runtime::engine()?;
    let mut times = vec![Vec::new(); modules.len()];
    for _ in 0..3 {
        for ((_, wasm), times) in modules.iter().zip(&mut times) {
            let start = Instant::now();
            wasmtime::Module::new(&engine, wasm)?;
            times.push(start.elapsed());
        }
    }
    let mut costs = Vec::new();
    for ((module, wasm), t) in modules.into_iter().zip(times) {
        let dispatched = if module == multimem_transform::Form::Portable.name() { Some(dispatched_share(guest, size)?) } else { None };
        costs.push(ModuleCost { module, code_bytes: multimem_transform::inspect::code_bytes(wasm), compile: median(t), dispatched });
    }
    Ok(costs)
}

/// The share of executed memory-0 accesses that still dispatch in one portable proof.
fn dispatched_share(guest: Guest, size: u32) -> Result<f64> {
    let options = multimem_transform::Options { count_accesses: true, ..Default::default() };
    let wasm = multimem_transform::transform(guest.wasm(), &options)?;
    let engine = multimem_runtime::engine_for(Strategy::Recreate)?;
    let mut reference = Reference::load_module(&engine, guest, &wasm, Strategy::Recreate, Default::default())?;
    reference.setup(size)?;
    let (dispatched, direct) = reference.count_accesses(1).context("counting accesses")?;
    Ok(dispatched as f64 / (dispatched + direct).max(1) as f64)
}

impl ModuleCost {
    pub fn to_json(&self, original: &ModuleCost) -> serde_json::Value {
        json!({
            "module": self.module,
            "code_bytes": self.code_bytes,
            "size_ratio": self.code_bytes as f64 / original.code_bytes as f64,
            "compile_ms": self.compile.as_secs_f64() * 1e3,
            "compile_ratio": self.compile.as_secs_f64() / original.compile.as_secs_f64(),
            "dispatched_share": self.dispatched,
        })
    }
}

pub fn run(args: &Args) -> Result<()> {
    let size = args.sizes.first().copied().unwrap_or(1 << 10);
    if let Some(strategy) = args.probe {
        return crate::startup::probe(args.guest, strategy, size, args.probe_precompiled.as_deref());
    }
    if args.startup {
        return startup(args, size);
    }
    let summaries = measure(args, |p| eprint!("\r{p:<60}"))?;
    eprintln!();
    let smallest = args.sizes.iter().copied().min().unwrap_or(1 << 10);
    let modules = module_costs(args.guest, &args.approaches, smallest)?;
    let reading = if args.plot.is_empty() {
        None
    } else {
        let series = isolated_rss(args, &summaries)?;
        let subtitle = plot_workload(args);
        let title = "RSS after each proof, each approach in a process of its own";
        let chart = crate::plot::RssChart { title, subtitle: &subtitle, lines: &series, proofs: &[], y_label: crate::plot::Y_LABEL };
        for path in &args.plot {
            crate::plot::write(path, &chart)?;
        }
        Some(rss_reading(&series))
    };
    if args.json {
        for s in &summaries {
            println!("{}", s.to_json());
        }
        for m in &modules {
            println!("{}", m.to_json(&modules[0]));
        }
        if let Some(reading) = &reading {
            println!("{}", json!({ "rss_reading": reading }));
        }
        return Ok(());
    }
    println!(
        "{:<12} {:>11} {:>6} {:>8} {:>10} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9}",
        "approach", args.guest.size_unit(), "ok", "until", "proof ms", "ratio", "fresh us", "mem0 MiB", "mem1 MiB", "RSS MiB", "peak MiB"
    );
    for s in &summaries {
        let j = s.to_json();
        let mib = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0) / 1048576.0;
        println!(
            "{:<12} {:>11} {:>6} {:>8} {:>10.1} {:>7} {:>12.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            s.approach.name(),
            s.constraints,
            format!("{}/{}", j["ok"], j["proofs"]),
            s.completed_before_failure(),
            s.median_wall().as_secs_f64() * 1e3,
            s.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            j["median_fresh_us"].as_f64().unwrap_or(0.0),
            mib(&j["memory0_pages"]) * 65536.0,
            mib(&j["memory1_peak_pages"]) * 65536.0,
            mib(&j["rss_bytes_last"]),
            mib(&j["rss_bytes_peak"]),
        );
    }
    println!("\n{:<12} {:>10} {:>7} {:>11} {:>7} {:>11}", "module", "code bytes", "ratio", "compile ms", "ratio", "dispatched");
    for m in &modules {
        let j = m.to_json(&modules[0]);
        let f = |k: &str| j[k].as_f64().unwrap_or(0.0);
        let share = m.dispatched.map_or("-".into(), |d| format!("{:.1}%", d * 100.0));
        println!("{:<12} {:>10} {:>7.2} {:>11.0} {:>7.2} {:>11}", m.module, m.code_bytes, f("size_ratio"), f("compile_ms"), f("compile_ratio"), share);
    }
    if let Some(reading) = reading {
        println!("\n{reading}");
    }
    Ok(())
}

fn startup(args: &Args, size: u32) -> Result<()> {
    let exe = match &args.exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("locating the multimem executable")?,
    };
    let strategies: Vec<Strategy> = args.approaches.iter().filter_map(|a| if let Approach::Runtime(s) = a { Some(*s) } else { None }).collect();
    let rows = crate::startup::measure(&exe, args.guest, &strategies, size, |p| eprint!("\r{p:<60}"))?;
    eprintln!();
    if args.json {
        let baseline = rows.iter().find(|r| r.strategy == Strategy::Baseline);
        for r in &rows {
            println!("{}", r.to_json(args.guest, size, baseline));
        }
    } else {
        print!("{}", crate::startup::table(args.guest, size, &rows));
    }
    Ok(())
}

/// The plot's subtitle: the workload the lines were measured under.
fn plot_workload(args: &Args) -> String {
    let size = args.sizes.iter().copied().max().unwrap_or(0);
    let mut title = format!("{} prover, 2^{:.0} {}", args.guest, (size as f64).log2(), args.guest.size_unit());
    if args.leak > 0 {
        title += &format!(", {} MiB leaked per proof", args.leak as f64 / 1048576.0);
    }
    if let Some(m) = args.fail_every {
        title += &match m {
            1 => ", every proof traps".to_string(),
            2 => ", every 2nd proof traps".to_string(),
            3 => ", every 3rd proof traps".to_string(),
            m => format!(", every {m}th proof traps"),
        };
    }
    if args.mixed {
        title += ", mixed sizes";
    }
    title
}

/// One line the plotted data supports: for each approach, the first proof from
/// which its RSS stays below the baseline's to the end of the run, or "never".
pub fn rss_reading(series: &[(String, Vec<u64>)]) -> String {
    let Some((_, baseline)) = series.iter().find(|(name, _)| name == Approach::Runtime(Strategy::Baseline).name()) else {
        return "RSS: no baseline in the run to compare with".to_string();
    };
    let proofs = baseline.len();
    let parts: Vec<String> = series
        .iter()
        .filter(|(name, _)| *name != Approach::Runtime(Strategy::Baseline).name())
        .map(|(name, rss)| {
            let below = |i: usize| rss.get(i).is_some_and(|r| *r < baseline[i]);
            let from = (0..proofs).rev().take_while(|&i| below(i)).last();
            match from {
                Some(0) => format!("{name} at every proof"),
                Some(i) => format!("{name} from proof {} on", i + 1),
                None => format!("{name} never"),
            }
        })
        .collect();
    format!("RSS below the baseline's over {proofs} proofs (each approach in its own process): {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::rss_reading;

    #[test]
    fn the_reading_names_the_first_proof_from_which_an_approach_stays_below_the_baseline() {
        let mib = |v: &[u64]| v.iter().map(|m| m << 20).collect::<Vec<_>>();
        let series = vec![
            ("baseline".to_string(), mib(&[20, 36, 52, 68, 84])),
            ("recreate".to_string(), mib(&[60, 60, 50, 61, 60])),
            ("fork".to_string(), mib(&[10, 10, 10, 10, 10])),
            ("proxy".to_string(), mib(&[90, 90, 90, 90, 90])),
        ];
        assert_eq!(
            rss_reading(&series),
            "RSS below the baseline's over 5 proofs (each approach in its own process): \
             recreate from proof 3 on; fork at every proof; proxy never"
        );
        assert!(rss_reading(&series[1..]).contains("no baseline"));
    }
}
