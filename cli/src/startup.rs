//! `multimem bench --startup`: what starting a prover costs under each
//! strategy, compiled at load or precompiled, each in a process of its own:
//! load time, and resident memory after load and after setup against the baseline's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use multimem_runtime::{rss_bytes, Limits, Strategy};
use serde_json::json;

use crate::reference::{Guest, Reference};

/// One start of a prover, as a child process measured it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Start {
    /// Transforming at load (0 when precompiled or under the baseline).
    pub transform: Duration,
    /// From nothing to a loaded prover, the transform included.
    pub load: Duration,
    pub rss_before: u64,
    /// After the transform at load (before compiling), or equal to `rss_before`.
    pub rss_transformed: u64,
    pub rss_loaded: u64,
    pub rss_set_up: u64,
}

impl Start {
    fn to_json(self) -> serde_json::Value {
        json!({
            "transform_ms": self.transform.as_secs_f64() * 1e3,
            "load_ms": self.load.as_secs_f64() * 1e3,
            "rss_before": self.rss_before,
            "rss_transformed": self.rss_transformed,
            "rss_loaded": self.rss_loaded,
            "rss_set_up": self.rss_set_up,
        })
    }

    fn from_json(v: &serde_json::Value) -> Start {
        let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(0.0) / 1e3);
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Start { transform: ms("transform_ms"), load: ms("load_ms"), rss_before: n("rss_before"), rss_transformed: n("rss_transformed"), rss_loaded: n("rss_loaded"), rss_set_up: n("rss_set_up") }
    }
}

/// The child's side: load `guest` under `strategy` (from `precompiled` if given), set it up at `size`, print one JSON line.
pub fn probe(guest: Guest, strategy: Strategy, size: u32, precompiled: Option<&Path>) -> Result<()> {
    let rss_before = rss_bytes();
    let engine = multimem_runtime::engine_for(strategy)?;
    let start = Instant::now();
    let mut rss_transformed = rss_before;
    let (mut reference, transform) = match precompiled {
        // SAFETY: the parent wrote this file with `multimem compile`'s code a moment ago, and nothing rewrites it.
        Some(path) => (unsafe { Reference::load_precompiled(&engine, guest, path, strategy, Limits::default())? }, Duration::ZERO),
        None => {
            guest.module_for(strategy)?;
            let transform = start.elapsed();
            rss_transformed = rss_bytes();
            (Reference::load_guest(&engine, guest, strategy, Limits::default())?, transform)
        }
    };
    let load = start.elapsed();
    let rss_loaded = reference.prover().resident_bytes();
    reference.setup(size)?;
    let rss_set_up = reference.prover().resident_bytes();
    println!("{}", Start { transform, load, rss_before, rss_transformed, rss_loaded, rss_set_up }.to_json());
    Ok(())
}

/// Starts of one strategy, compiled at load and precompiled.
#[derive(Clone, Debug)]
pub struct Row {
    pub strategy: Strategy,
    /// `multimem compile`'s time (transform included).
    pub compile_ahead: Duration,
    pub artefact_bytes: u64,
    pub compiled: Start,
    pub precompiled: Start,
}

/// The parent's side: compile every strategy ahead, then start each both ways in children.
pub fn measure(exe: &Path, guest: Guest, strategies: &[Strategy], size: u32, mut progress: impl FnMut(&str)) -> Result<Vec<Row>> {
    guest.setup_arg(size)?;
    let dir = std::env::temp_dir().join(format!("multimem-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| {
        let mut rows = Vec::new();
        for &strategy in strategies {
            progress(&format!("{guest} {strategy}: compiling ahead"));
            let engine = multimem_runtime::engine_for(strategy)?;
            let path = dir.join(format!("{guest}-{strategy}.cwasm"));
            let start = Instant::now();
            let artefact = crate::compile_cmd::compile(&engine, guest.wasm(), strategy, Limits::default(), true)?;
            let compile_ahead = start.elapsed();
            crate::transform_cmd::write_whole(&path, &artefact)?;
            progress(&format!("{guest} {strategy}: starting"));
            let compiled = child(exe, guest, strategy, size, None)?;
            let precompiled = child(exe, guest, strategy, size, Some(&path))?;
            rows.push(Row { strategy, compile_ahead, artefact_bytes: artefact.len() as u64, compiled, precompiled });
        }
        Ok(rows)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn child(exe: &Path, guest: Guest, strategy: Strategy, size: u32, precompiled: Option<&PathBuf>) -> Result<Start> {
    let mut command = Command::new(exe);
    command.args(["bench", "--guest", guest.name(), "--sizes", &size.to_string(), "--probe", strategy.name()]);
    if let Some(path) = precompiled {
        command.arg("--probe-precompiled").arg(path);
    }
    let out = command.output().context("running a `multimem` child")?;
    ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading the child's JSON")?;
    Ok(Start::from_json(&line))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Within the target: 10% or 10 MiB of the baseline's, whichever is larger.
pub fn within_target(rss: u64, baseline: u64) -> bool {
    rss <= baseline + (baseline / 10).max(10 << 20)
}

impl Row {
    pub fn to_json(&self, guest: Guest, size: u32, baseline: Option<&Row>) -> serde_json::Value {
        let over = |f: fn(&Start) -> u64, s: &Start, b: Option<&Start>| b.map(|b| f(s) as i64 - f(b) as i64);
        let b = baseline;
        json!({
            "guest": guest.name(),
            "size": size,
            "strategy": self.strategy.name(),
            "compile_ahead_ms": self.compile_ahead.as_secs_f64() * 1e3,
            "artefact_bytes": self.artefact_bytes,
            "compiled": self.compiled.to_json(),
            "precompiled": self.precompiled.to_json(),
            "rss_loaded_over_baseline": { "compiled": over(|s| s.rss_loaded, &self.compiled, b.map(|b| &b.compiled)), "precompiled": over(|s| s.rss_loaded, &self.precompiled, b.map(|b| &b.precompiled)) },
            "rss_set_up_over_baseline": { "compiled": over(|s| s.rss_set_up, &self.compiled, b.map(|b| &b.compiled)), "precompiled": over(|s| s.rss_set_up, &self.precompiled, b.map(|b| &b.precompiled)) },
        })
    }
}

/// The table: one line per strategy, compiled at load against precompiled.
pub fn table(guest: Guest, size: u32, rows: &[Row]) -> String {
    let baseline = rows.iter().find(|r| r.strategy == Strategy::Baseline);
    let mut out = format!(
        "{guest} prover, setup at {size} {}; each start in a process of its own; RSS in MiB (memory 0's memfd pages counted)\n",
        guest.size_unit()
    );
    out += &format!(
        "{:<13} {:>10} {:>9} {:>10} {:>8} | {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8}\n",
        "strategy", "transform", "load ms", "precomp", "speedup", "loaded", "+base", "precomp", "+base", "set up", "+base", "precomp", "+base"
    );
    for r in rows {
        let delta = |v: u64, b: Option<u64>| match b {
            Some(b) => format!("{:+.1}{}", (v as f64 - b as f64) / 1048576.0, if within_target(v, b) { "" } else { "!" }),
            None => "-".into(),
        };
        let (c, p) = (&r.compiled, &r.precompiled);
        out += &format!(
            "{:<13} {:>10.0} {:>9.0} {:>10.1} {:>7.0}x | {:>8.1} {:>8} {:>8.1} {:>8} | {:>8.1} {:>8} {:>8.1} {:>8}\n",
            r.strategy.name(),
            c.transform.as_secs_f64() * 1e3,
            c.load.as_secs_f64() * 1e3,
            p.load.as_secs_f64() * 1e3,
            c.load.as_secs_f64() / p.load.as_secs_f64().max(1e-9),
            mib(c.rss_loaded),
            delta(c.rss_loaded, baseline.map(|b| b.compiled.rss_loaded)),
            mib(p.rss_loaded),
            delta(p.rss_loaded, baseline.map(|b| b.precompiled.rss_loaded)),
            mib(c.rss_set_up),
            delta(c.rss_set_up, baseline.map(|b| b.compiled.rss_set_up)),
            mib(p.rss_set_up),
            delta(p.rss_set_up, baseline.map(|b| b.precompiled.rss_set_up)),
        );
    }
    out += "load ms: transform + compile at load; precomp: mapped from `multimem compile`'s file. \
            +base: MiB over the baseline started the same way; ! marks more than 10% or 10 MiB over.\n";
    out
}
