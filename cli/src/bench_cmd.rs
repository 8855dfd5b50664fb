//! `multimem bench`: proof time and memory of each strategy, side by side in one run.
//!
//! Strategies are interleaved proof by proof on the same seeds, so machine
//! noise hits all of them alike; ratios are computed within the run.

use std::time::Duration;

use anyhow::{ensure, Result};
use clap::Parser;
use multimem_runtime::{Limits, ProofMetrics, Strategy};
use serde_json::json;

use crate::reference::Reference;

#[derive(Parser, Clone, Debug)]
pub struct Args {
    /// Circuit sizes (constraints), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1u32 << 10, 1 << 12, 1 << 14])]
    pub sizes: Vec<u32>,
    /// Proofs per strategy and size.
    #[arg(long, default_value_t = 5)]
    pub proofs: u32,
    /// Strategies to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = Strategy::ALL.to_vec())]
    pub strategies: Vec<Strategy>,
    /// One JSON object per strategy and size instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Summary of one strategy at one size.
#[derive(Clone, Debug)]
pub struct Summary {
    pub strategy: Strategy,
    pub constraints: u32,
    pub proofs: Vec<ProofMetrics>,
    pub median_wall: Duration,
    /// Median proof time over the baseline's, when the baseline ran.
    pub ratio: Option<f64>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the benchmark and returns one summary per strategy and size.
pub fn measure(args: &Args, mut progress: impl FnMut(&str)) -> Result<Vec<Summary>> {
    ensure!(args.proofs > 0 && !args.strategies.is_empty(), "nothing to measure");
    let engine = multimem_runtime::engine()?;
    let mut summaries = Vec::new();
    for &constraints in &args.sizes {
        let mut provers = Vec::new();
        for &strategy in &args.strategies {
            let mut reference = Reference::load(&engine, strategy, Limits::default())?;
            reference.setup(constraints)?;
            provers.push((strategy, reference, Vec::new()));
        }
        for proof in 1..=args.proofs {
            progress(&format!("2^{:.0} constraints: proof {proof}/{}", (constraints as f64).log2(), args.proofs));
            let mut first: Option<Vec<u8>> = None;
            for (strategy, reference, metrics) in &mut provers {
                let (output, m) = reference.prove(u64::from(proof));
                let bytes = output?.bytes;
                // Every strategy proves the same statement with the same randomness.
                match &first {
                    None => first = Some(bytes),
                    Some(f) => ensure!(*f == bytes, "{} gave different proof bytes", strategy.name()),
                }
                metrics.push(m);
            }
        }
        let baseline = provers.iter().find(|p| p.0 == Strategy::Baseline).map(|p| median(p.2.iter().map(|m| m.wall).collect()));
        for (strategy, _, metrics) in provers {
            let median_wall = median(metrics.iter().map(|m| m.wall).collect());
            let ratio = baseline.map(|b| median_wall.as_secs_f64() / b.as_secs_f64());
            summaries.push(Summary { strategy, constraints, proofs: metrics, median_wall, ratio });
        }
    }
    Ok(summaries)
}

impl Summary {
    fn median_of(&self, f: impl Fn(&ProofMetrics) -> Duration) -> Duration {
        median(self.proofs.iter().map(f).collect())
    }

    pub fn to_json(&self) -> serde_json::Value {
        let last = self.proofs.last().copied().unwrap_or_default();
        let walls: Vec<f64> = self.proofs.iter().map(|m| m.wall.as_secs_f64() * 1e3).collect();
        json!({
            "strategy": self.strategy.name(),
            "constraints": self.constraints,
            "proofs": self.proofs.len(),
            "median_wall_ms": self.median_wall.as_secs_f64() * 1e3,
            "min_wall_ms": walls.iter().cloned().fold(f64::INFINITY, f64::min),
            "max_wall_ms": walls.iter().cloned().fold(0.0, f64::max),
            "ratio_to_baseline": self.ratio,
            "median_create_us": self.median_of(|m| m.create).as_secs_f64() * 1e6,
            "median_drop_us": self.median_of(|m| m.drop).as_secs_f64() * 1e6,
            "memory0_pages": last.memory0_pages,
            "memory1_peak_pages": last.memory1_peak_pages,
            "rss_bytes": last.rss_bytes,
        })
    }
}

pub fn run(args: &Args) -> Result<()> {
    let summaries = measure(args, |p| eprint!("\r{p}   "))?;
    eprintln!();
    if args.json {
        for s in &summaries {
            println!("{}", s.to_json());
        }
        return Ok(());
    }
    println!(
        "{:<10} {:>11} {:>10} {:>9} {:>10} {:>10} {:>9} {:>10} {:>9}",
        "strategy", "constraints", "proof ms", "ratio", "create us", "drop us", "mem0 MiB", "mem1 MiB", "RSS MiB"
    );
    for s in &summaries {
        let j = s.to_json();
        let mib = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0) / 1048576.0;
        println!(
            "{:<10} {:>11} {:>10.1} {:>9} {:>10.1} {:>10.1} {:>9.1} {:>10.1} {:>9.1}",
            s.strategy.name(),
            s.constraints,
            s.median_wall.as_secs_f64() * 1e3,
            s.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            j["median_create_us"].as_f64().unwrap_or(0.0),
            j["median_drop_us"].as_f64().unwrap_or(0.0),
            mib(&j["memory0_pages"]) * 65536.0,
            mib(&j["memory1_peak_pages"]) * 65536.0,
            mib(&j["rss_bytes"]),
        );
    }
    Ok(())
}
