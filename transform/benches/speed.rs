//! Transform speed against binaryen merely reading and writing the same module
//! (wasm-opt with no passes), side by side in one run, on the real-world corpus.
//!
//!     cargo bench -p multimem-transform --features opt --bench speed
//!
//! Prints one line per module with both medians and their ratio.

use std::time::{Duration, Instant};

#[path = "../../tests/src/corpus.rs"]
mod corpus;

const RUNS: usize = 5;

// As in the `multimem` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let threads = rayon_threads();
    println!("transform (no --opt) vs wasm-opt read+write, median of {RUNS}, {threads} threads");
    println!("{:<22} {:>9} {:>12} {:>14} {:>7}", "module", "MB", "multimem s", "wasm-opt rw s", "ratio");
    for entry in corpus::CORPUS {
        let wasm = corpus::fetch(entry)?;
        let shared = multimem_transform::inspect::run(&wasm)?.memories[0].shared;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let start = Instant::now();
            let out = multimem_transform::transform(&wasm, &Default::default())?;
            ours.push(start.elapsed());
            std::hint::black_box(out);
            let start = Instant::now();
            let out = multimem_transform::opt::roundtrip(&wasm, shared)?;
            theirs.push(start.elapsed());
            std::hint::black_box(out);
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "{:<22} {:>9.1} {:>12.3} {:>14.3} {:>7.2}",
            entry.name,
            wasm.len() as f64 / 1e6,
            ours.as_secs_f64(),
            theirs.as_secs_f64(),
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
