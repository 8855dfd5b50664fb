//! The reference prover natively, for comparing with its wasm build:
//!
//!     cargo run --release --manifest-path prover-guest/Cargo.toml --target-dir target/guest --example native -- 65536 3
use std::time::Instant;

use groth16_guest::Prover;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>().expect("a number"));
    let constraints = args.next().unwrap_or(1 << 12);
    let proofs = args.next().unwrap_or(3);
    let mut prover = Prover::new();
    let start = Instant::now();
    prover.setup(constraints).expect("setup");
    println!("setup 2^{:.0}: {:.2} s", (constraints as f64).log2(), start.elapsed().as_secs_f64());
    for seed in 1..=u64::from(proofs) {
        let start = Instant::now();
        let proof = prover.prove(seed).expect("prove");
        let elapsed = start.elapsed();
        assert!(prover.verify(&proof).expect("verify"));
        println!("proof {seed}: {:.3} s", elapsed.as_secs_f64());
    }
}
