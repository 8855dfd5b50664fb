//! Benchmarks of the fork strategy (ignored; figures in docs/notes-fork.md):
//!
//!     cargo test --workspace --test fork_bench -- --ignored --nocapture --test-threads 1
//!
//! - `proof_time_against_baseline`: fork vs baseline proof time, interleaved in one run;
//!   fresh cost per proof (view created + dropped) and the pages a proof copied or touched.
//! - `memory_scaling`: N = 1, 2, 4 proofs at once on one fork prover against N processes
//!   that each set up their own baseline prover; every run a child process of its own.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use multimem::reference::{Guest, Reference};
use multimem_runtime::{rss_bytes, Limits, Strategy};
use wasmtime::Val;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of this thread (user + system, 10 ms ticks): less at the mercy of other processes than wall time.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // Fields 14 and 15 of stat (utime, stime); `after` starts at field 3.
    Duration::from_millis((fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0)) * 10)
}

fn loaded(guest: Guest, strategy: Strategy, size: u32) -> anyhow::Result<Reference> {
    let engine = multimem_runtime::engine_for(strategy)?;
    let mut r = Reference::load_guest(&engine, guest, strategy, Limits::default())?;
    r.setup(size)?;
    Ok(r)
}

#[test]
#[ignore]
fn proof_time_against_baseline() -> anyhow::Result<()> {
    let proofs: u64 = std::env::var("FORK_BENCH_PROOFS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    // FORK_BENCH_CASES=groth16-nosdk:4096,halo2:1024 runs some of them.
    let all = "groth16-nosdk:4096,halo2:1024,groth16-nosdk:65536,halo2:16384";
    let cases = std::env::var("FORK_BENCH_CASES").unwrap_or(all.into());
    for case in cases.split(',') {
        let (guest, size) = case.split_once(':').ok_or_else(|| anyhow::anyhow!("case `{case}` is not guest:size"))?;
        let (guest, size): (Guest, u32) = (guest.parse().map_err(anyhow::Error::msg)?, size.parse()?);
        let mut baseline = loaded(guest, Strategy::Baseline, size)?;
        let mut fork = loaded(guest, Strategy::Fork, size)?;
        let (mut wall_b, mut wall_f, mut fresh, mut copied, mut touched) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut cpu_b, mut cpu_f) = (vec![], vec![]);
        for seed in 0..=proofs {
            let t = thread_cpu();
            let (pb, mb) = baseline.prove(seed);
            let (t, tb) = (thread_cpu(), thread_cpu() - t);
            let (pf, mf) = fork.prove(seed);
            let tf = thread_cpu() - t;
            anyhow::ensure!(pb?.bytes == pf?.bytes, "{guest} 2^{}: fork's proof differs", size.trailing_zeros());
            if seed == 0 {
                continue; // warm-up
            }
            cpu_b.push(tb);
            cpu_f.push(tf);
            wall_b.push(mb.wall);
            wall_f.push(mf.wall);
            fresh.push(mf.reset());
            copied.push(mf.cow_pages);
            touched.push(mf.fresh_pages);
        }
        let (b, f) = (median(wall_b), median(wall_f));
        let (cb, cf) = (median(cpu_b), median(cpu_f));
        println!(
            "{guest} 2^{}: CPU baseline {:.2} s, fork {:.2} s, ratio {:.3}x (whole prove call, create and drop included); wall baseline {:.3} s, fork {:.3} s, ratio {:.3}x; fork fresh (create+drop) {:.2} ms; copied {} MiB, fresh {} MiB per proof; memory 0 {} MiB",
            size.trailing_zeros(),
            cb.as_secs_f64(),
            cf.as_secs_f64(),
            cf.as_secs_f64() / cb.as_secs_f64(),
            b.as_secs_f64(),
            f.as_secs_f64(),
            f.as_secs_f64() / b.as_secs_f64(),
            median(fresh).as_secs_f64() * 1e3,
            copied[0] * 4096 >> 20,
            touched[0] * 4096 >> 20,
            fork.prover().memory0_pages() * 65536 >> 20,
        );
    }
    Ok(())
}

const CHILD: &str = "MULTIMEM_FORK_BENCH_CHILD";
/// The view-form module the fork child loads.
const WASM: &str = "MULTIMEM_FORK_BENCH_WASM";

/// A child's job: `fork,N` (one fork prover, N proofs at once) or `process` (one baseline prover, one proof).
#[test]
#[ignore]
fn memory_scaling_child() -> anyhow::Result<()> {
    let Ok(job) = std::env::var(CHILD) else { return Ok(()) };
    let (guest, size) = scaling_workload();
    let peak = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let run = || -> anyhow::Result<()> {
            if let Some(n) = job.strip_prefix("fork,") {
                let n: u64 = n.parse()?;
                // Transformed beforehand (a build step), as a deployment would ship it.
                let wasm = std::fs::read(std::env::var(WASM)?)?;
                let engine = multimem_runtime::engine_for(Strategy::Fork)?;
                let mut fork = Reference::load_module(&engine, guest, &wasm, Strategy::Fork, Limits::default())?;
                fork.setup(size)?;
                let proofs = fork.prover().proofs()?;
                std::thread::scope(|s| {
                    let all: Vec<_> = (0..n)
                        .map(|t| {
                            let proofs = &proofs;
                            s.spawn(move || proofs.prove(|p| Ok(p.call("prove", &[Val::I64(t as i64)])?[0].unwrap_i32())).0)
                        })
                        .collect();
                    all.into_iter().try_for_each(|h| -> anyhow::Result<()> {
                        let status = h.join().unwrap()?;
                        anyhow::ensure!(status == 0, "prove failed");
                        Ok(())
                    })
                })
            } else {
                let mut baseline = loaded(guest, Strategy::Baseline, size)?;
                baseline.prove(1).0.map(drop)
            }
        };
        let result = run();
        peak.fetch_max(rss_bytes(), Ordering::Relaxed);
        // Where the memory is, for the notes.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let fields: Vec<&str> = status.lines().filter(|l| ["VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"].iter().any(|f| l.starts_with(f))).collect();
        eprintln!("{job}: {} | honest {} MiB", fields.join(", ").split_whitespace().collect::<Vec<_>>().join(" "), rss_bytes() >> 20);
        done.store(true, Ordering::Relaxed);
        result
    })?;
    println!("RESULT {} {}", peak.load(Ordering::Relaxed), start.elapsed().as_millis());
    Ok(())
}

fn scaling_workload() -> (Guest, u32) {
    (Guest::Groth16NoSdk, std::env::var("FORK_BENCH_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 14))
}

/// Spawns `jobs` children at once; returns each one's peak RSS and the wall time of all.
fn children(jobs: &[String]) -> anyhow::Result<(Vec<u64>, Duration)> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let spawned: Vec<_> = jobs
        .iter()
        .map(|job| {
            Command::new(&exe)
                .args(["memory_scaling_child", "--ignored", "--exact", "--nocapture", "--test-threads", "1"])
                .env(CHILD, job)
                .output()
        })
        .collect::<Result<_, _>>()?;
    let wall = start.elapsed();
    let mut peaks = Vec::new();
    for out in spawned {
        peaks.push(peak_of(&out)?);
    }
    Ok((peaks, wall))
}

/// The peak RSS a child printed after `RESULT`.
fn peak_of(out: &std::process::Output) -> anyhow::Result<u64> {
    let text = String::from_utf8_lossy(&out.stdout);
    let peak = text.split("RESULT ").nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|p| p.parse().ok());
    peak.ok_or_else(|| anyhow::anyhow!("child said: {text}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
#[ignore]
fn memory_scaling() -> anyhow::Result<()> {
    let (guest, size) = scaling_workload();
    println!("{guest} at 2^{}: peak RSS (memory 0 included) and wall time", size.trailing_zeros());
    let wasm = std::env::temp_dir().join(format!("multimem-fork-bench-{}.wasm", std::process::id()));
    std::fs::write(&wasm, guest.module_for(Strategy::Fork)?)?;
    std::env::set_var(WASM, &wasm);
    for n in [1usize, 2, 4] {
        // Processes are started together; Command::output waits in turn, so start them all first.
        let (fork_peak, fork_wall) = children(&[format!("fork,{n}")])?;
        let exe = std::env::current_exe()?;
        let start = Instant::now();
        let running: Vec<_> = (0..n)
            .map(|_| {
                Command::new(&exe)
                    .args(["memory_scaling_child", "--ignored", "--exact", "--nocapture", "--test-threads", "1"])
                    .env(CHILD, "process")
                    .stdout(std::process::Stdio::piped())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        let mut process_peaks = Vec::new();
        for child in running {
            process_peaks.push(peak_of(&child.wait_with_output()?)?);
        }
        let process_wall = start.elapsed();
        let sum: u64 = process_peaks.iter().sum();
        println!(
            "N={n}: fork one process {} MiB, {:.2} s ({:.2} proofs/s) | {n} processes {} MiB in all ({:?} MiB each), {:.2} s ({:.2} proofs/s) | memory ratio {:.2}",
            fork_peak[0] >> 20,
            fork_wall.as_secs_f64(),
            n as f64 / fork_wall.as_secs_f64(),
            sum >> 20,
            process_peaks.iter().map(|p| p >> 20).collect::<Vec<_>>(),
            process_wall.as_secs_f64(),
            n as f64 / process_wall.as_secs_f64(),
            fork_peak[0] as f64 / sum as f64,
        );
    }
    Ok(())
}
