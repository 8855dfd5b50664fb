use multimem_runtime::{Limits, Prover, Strategy};
use multimem_transform::{transform, Options, Route};
use wasmtime::{Linker, Val};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or(env!("MULTIMEM_REFERENCE_WASM").into());
    let transformed = transform(&std::fs::read(path)?, &Options { route: Route::On, ..Options::default() })?;
    let engine = multimem_runtime::engine()?;
    let mut prover = Prover::load(&engine, &Linker::<()>::new(&engine), &transformed, Strategy::Recreate, Limits::default())?;
    prover.call("setup", &[Val::I32(1 << 10)])?; // no proof active: keys stay in memory 0
    for seed in 1..=3 {
        let (proof, metrics) = prover.prove(|p| {
            anyhow::ensure!(p.call("prove", &[Val::I64(seed)])?[0].unwrap_i32() == 0, "prove failed");
            let [ptr, len] = ["proof_ptr", "proof_len"].map(|f| p.call(f, &[]).map(|r| r[0].unwrap_i32() as u32));
            p.read_slice::<u8>(ptr?, len?) // copy the proof out while memory 1 exists
        }); // memory 1 is dropped here, trap or not
        println!("proof {seed}: {} bytes; {} pages of memory 1 given back", proof?.len(), metrics.memory1_peak_pages);
    }
    Ok(())
}
