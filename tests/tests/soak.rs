//! The soak benchmark (ignored: it runs for tens of minutes): `multimem bench
//! --soak` as a test binary, which needs no separate build of the CLI.
//!
//!     SOAK_PROOFS=10000 nice -n 10 cargo test --workspace --test soak -- --ignored --nocapture
//!
//! (`SOAK_BUDGET_S=N` stops at the first sample after N seconds.)
//! runs 10,000 proofs of the reference prover at 2^10 constraints under
//! recreate, each leaking 1 MiB and every 10th trapping, and draws docs/soak.svg.

use clap::Parser;
use multimem::bench_cmd::Args;

#[test]
#[ignore = "a benchmark: tens of minutes"]
fn soak() -> anyhow::Result<()> {
    let proofs = std::env::var("SOAK_PROOFS").ok().and_then(|p| p.parse().ok()).unwrap_or(10_000u32);
    let budget = std::env::var("SOAK_BUDGET_S").unwrap_or_else(|_| "86400".into());
    let plot = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/soak.svg");
    let args = Args::try_parse_from([
        "bench", "--soak", &proofs.to_string(), "--soak-budget", &budget, "--sizes", "1024", "--approaches", "recreate",
        "--leak", "1048576", "--fail-every", "10", "--plot", plot,
    ])?;
    multimem::soak::run(&args, proofs)
}
