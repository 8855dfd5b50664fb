//! `multimem bench --soak N`: N proofs in one process under one strategy,
//! leaks and traps mixed in, memory recorded every [`EVERY`] proofs. What it
//! shows is whether anything grows over thousands of proofs.

use std::time::Instant;

use anyhow::{ensure, Result};
use multimem_runtime::{rss_bytes, Limits, Strategy};
use serde_json::json;

use crate::bench_cmd::{Approach, Args};
use crate::prove_cmd::{prove_once, traps};
use crate::reference::Reference;

/// Proofs between two samples.
pub const EVERY: u32 = 100;

/// Memory after proof `proof`, and what the proofs up to it did.
#[derive(Clone, Copy, Debug, Default)]
pub struct SoakSample {
    pub proof: u32,
    pub memory0_pages: u64,
    /// The largest memory 1 of the proofs since the previous sample.
    pub memory1_peak_pages: u64,
    pub rss_bytes: u64,
    /// Proofs so far that verified.
    pub verified: u32,
    /// Proofs so far the trap workload made fail, as it should.
    pub trapped: u32,
    /// Proofs so far that failed otherwise (none, in a sound run).
    pub unexpected: u32,
    pub seconds: f64,
}

impl SoakSample {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "proof": self.proof,
            "memory0_pages": self.memory0_pages,
            "memory1_peak_pages": self.memory1_peak_pages,
            "rss_bytes": self.rss_bytes,
            "verified": self.verified,
            "trapped": self.trapped,
            "unexpected_failures": self.unexpected,
            "seconds": self.seconds,
        })
    }
}

/// The strategy a soak runs: the first runtime strategy of `--approaches` unless all were given.
pub fn strategy(args: &Args) -> Strategy {
    let runtime: Vec<Strategy> = args.approaches.iter().filter_map(|a| if let Approach::Runtime(s) = a { Some(*s) } else { None }).collect();
    if args.approaches.len() == Approach::ALL.len() || runtime.is_empty() { Strategy::Recreate } else { runtime[0] }
}

/// Runs `proofs` proofs and samples memory after proof 1 and every [`EVERY`] proofs (and the last).
pub fn measure(args: &Args, proofs: u32, mut each: impl FnMut(&SoakSample)) -> Result<Vec<SoakSample>> {
    ensure!(proofs > 0, "a soak needs at least one proof");
    let strategy = strategy(args);
    let size = args.sizes.iter().copied().min().unwrap_or(1 << 10);
    args.guest.setup_arg(size)?;
    let engine = multimem_runtime::engine_for(strategy)?;
    let limits = Limits { memory0_max_bytes: args.memory_limit.map(|m| m << 20), ..Limits::default() };
    let mut reference = Reference::load_guest(&engine, args.guest, strategy, limits)?;
    reference.setup(size)?;
    reference.set_leak(args.leak)?;
    let start = Instant::now();
    let (mut sample, mut samples) = (SoakSample::default(), Vec::new());
    for proof in 1..=proofs {
        let fail = traps(args.fail_every, proof);
        let outcome = prove_once(&mut reference, u64::from(proof), fail, None);
        match (outcome.verified, fail) {
            (true, _) => sample.verified += 1,
            (false, true) => sample.trapped += 1,
            (false, false) => {
                sample.unexpected += 1;
                eprintln!("\nproof {proof} failed: {}", outcome.error.as_deref().unwrap_or("did not verify"));
            }
        }
        sample.memory1_peak_pages = sample.memory1_peak_pages.max(outcome.metrics.memory1_peak_pages);
        let out_of_time = args.soak_budget.is_some_and(|b| start.elapsed().as_secs() >= b) && proof % EVERY == 0;
        if proof == 1 || proof % EVERY == 0 || proof == proofs {
            sample.proof = proof;
            sample.memory0_pages = reference.prover().memory0_pages();
            sample.rss_bytes = rss_bytes();
            sample.seconds = start.elapsed().as_secs_f64();
            each(&sample);
            samples.push(sample);
            sample.memory1_peak_pages = 0;
        }
        if out_of_time {
            eprintln!("soak: stopped after {proof} of {proofs} proofs (--soak-budget)");
            break;
        }
    }
    Ok(samples)
}

pub fn run(args: &Args, proofs: u32) -> Result<()> {
    let strategy = strategy(args);
    let size = args.sizes.iter().copied().min().unwrap_or(1 << 10);
    if !args.json {
        println!(
            "soak: {} guest, {strategy}, 2^{:.0} {}, {proofs} proofs, leak {} B/proof{}",
            args.guest,
            (size as f64).log2(),
            args.guest.size_unit(),
            args.leak,
            args.fail_every.map(|m| format!(", every {m}th proof traps")).unwrap_or_default()
        );
        println!("{:>7} {:>9} {:>14} {:>9} {:>9} {:>8} {:>11} {:>8}", "proof", "mem0 MiB", "mem1 peak MiB", "RSS MiB", "verified", "trapped", "unexpected", "seconds");
    }
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let samples = measure(args, proofs, |s| {
        if args.json {
            println!("{}", s.to_json());
        } else {
            println!(
                "{:>7} {:>9.1} {:>14.1} {:>9.1} {:>9} {:>8} {:>11} {:>8.0}",
                s.proof,
                mib(s.memory0_pages * 65536),
                mib(s.memory1_peak_pages * 65536),
                mib(s.rss_bytes),
                s.verified,
                s.trapped,
                s.unexpected,
                s.seconds
            );
        }
    })?;
    let reading = reading(&samples);
    if !args.plot.is_empty() {
        let lines = vec![
            ("memory 0".to_string(), samples.iter().map(|s| s.memory0_pages * 65536).collect()),
            ("memory 1 peak".to_string(), samples.iter().map(|s| s.memory1_peak_pages * 65536).collect()),
            ("RSS".to_string(), samples.iter().map(|s| s.rss_bytes).collect()),
        ];
        let numbers: Vec<u32> = samples.iter().map(|s| s.proof).collect();
        let mut subtitle = format!("{} prover, {strategy}, 2^{:.0} {}", args.guest, (size as f64).log2(), args.guest.size_unit());
        if args.leak > 0 {
            subtitle += &format!(", {:.0} MiB leaked per proof", mib(args.leak as u64));
        }
        if let Some(m) = args.fail_every {
            subtitle += &format!(", every {m}th proof traps");
        }
        let run = samples.last().map_or(0, |s| s.proof);
        let title = format!("{run} proofs in one process: memory every {EVERY} proofs");
        let chart = crate::plot::RssChart { title: &title, subtitle: &subtitle, lines: &lines, proofs: &numbers, y_label: "MiB after the proof" };
        for path in &args.plot {
            crate::plot::write(path, &chart)?;
        }
    }
    if args.json {
        println!("{}", json!({ "soak_reading": reading }));
    } else {
        println!("\n{reading}");
    }
    Ok(())
}

/// What the samples say: growth from the first full sample (proof [`EVERY`]) to the last.
pub fn reading(samples: &[SoakSample]) -> String {
    let (Some(first), Some(last)) = (samples.iter().find(|s| s.proof >= EVERY).or(samples.first()), samples.last()) else {
        return "soak: no samples".to_string();
    };
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let peak1 = samples.iter().map(|s| s.memory1_peak_pages).max().unwrap_or(0);
    let rss_max = samples.iter().filter(|s| s.proof >= first.proof).map(|s| s.rss_bytes).max().unwrap_or(0);
    format!(
        "soak over {} proofs: memory 0 {:.1} -> {:.1} MiB (proof {} -> {}); memory 1 peak at most {:.1} MiB; RSS {:.1} -> {:.1} MiB ({:+.1}%), at most {:.1} MiB; {} verified, {} trapped as injected, {} failed otherwise",
        last.proof,
        mib(first.memory0_pages * 65536),
        mib(last.memory0_pages * 65536),
        first.proof,
        last.proof,
        mib(peak1 * 65536),
        mib(first.rss_bytes),
        mib(last.rss_bytes),
        (last.rss_bytes as f64 / first.rss_bytes.max(1) as f64 - 1.0) * 100.0,
        mib(rss_max),
        last.verified,
        last.trapped,
        last.unexpected
    )
}
