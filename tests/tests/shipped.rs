//! A module as provers ship: imported non-shared `env.memory`, a start
//! function that zeroes .bss, WASI imports served by the caller's Linker
//! through `GuestMemory`. It loads and proves under every strategy, the start
//! function running once against memory 0.

use multimem_runtime::{GuestMemory, Limits, Prover, Strategy};
use multimem_transform::Options;
use wasmtime::{Caller, Linker, Val};

const FIXTURE: &str = include_str!("../fixtures/cpp_like.wat");
const KEYS: u32 = 5000;
const CLOCK: u64 = 1_234_567;

fn wasi(linker: &mut Linker<()>) -> anyhow::Result<()> {
    let w = "wasi_snapshot_preview1";
    linker.func_wrap(w, "random_get", |mut c: Caller<'_, ()>, ptr: u32, len: u32| -> wasmtime::Result<i32> {
        GuestMemory::write(&mut c, ptr, &vec![0xa5; len as usize])?;
        Ok(0)
    })?;
    linker.func_wrap(w, "clock_time_get", |mut c: Caller<'_, ()>, _id: i32, _precision: i64, ptr: u32| -> wasmtime::Result<i32> {
        GuestMemory::write(&mut c, ptr, &CLOCK.to_le_bytes())?;
        Ok(0)
    })?;
    linker.func_wrap(w, "proc_exit", |code: i32| -> wasmtime::Result<()> { Err(wasmtime::format_err!("proc_exit({code})")) })?;
    Ok(())
}

fn load(strategy: Strategy) -> anyhow::Result<Prover<()>> {
    load_text(strategy, FIXTURE)
}

fn load_text(strategy: Strategy, text: &str) -> anyhow::Result<Prover<()>> {
    load_text_on(strategy, text, &multimem_runtime::engine_for(strategy)?)
}

fn load_text_on(strategy: Strategy, text: &str, engine: &wasmtime::Engine) -> anyhow::Result<Prover<()>> {
    let original = wat::parse_str(text)?;
    let wasm = match strategy.form() {
        Some(form) => multimem_transform::transform(&original, &Options { form, ..Options::default() })?,
        None => original,
    };
    load_module_on(strategy, &wasm, engine)
}

fn load_module(strategy: Strategy, wasm: &[u8]) -> anyhow::Result<Prover<()>> {
    load_module_on(strategy, wasm, &multimem_runtime::engine_for(strategy)?)
}

fn load_module_on(strategy: Strategy, wasm: &[u8], engine: &wasmtime::Engine) -> anyhow::Result<Prover<()>> {
    let mut linker = Linker::new(engine);
    wasi(&mut linker)?;
    Prover::load(engine, &linker, wasm, strategy, Limits::default())
}

fn prove(prover: &mut Prover<()>, seed: u64) -> anyhow::Result<[u64; 5]> {
    prover
        .prove(|p| {
            let out = p.call("prove", &[Val::I64(seed as i64)])?[0].unwrap_i32() as u32;
            p.read_pod::<[u64; 5]>(out)
        })
        .0
}

#[test]
fn a_shipped_module_proves_under_every_strategy() -> anyhow::Result<()> {
    proves_under_every_strategy(FIXTURE)
}

/// The same with memory 0 imported shared, under another name (a threaded build's).
#[test]
fn a_shared_memory_0_under_any_name_proves_under_every_strategy() -> anyhow::Result<()> {
    let shared = FIXTURE.replace(r#"(import "env" "memory" (memory 2 16384))"#, r#"(import "js" "heap" (memory 2 16384 shared))"#);
    assert_ne!(shared, FIXTURE);
    proves_under_every_strategy(&shared)
}

fn proves_under_every_strategy(text: &str) -> anyhow::Result<()> {
    let shared = text.contains(" shared)");
    let keys: u64 = 8 * 0xa5 + (8..KEYS).map(|i| ((i * 31 + 7) & 255) as u64).sum::<u64>();
    for strategy in Strategy::ALL {
        if shared && strategy == Strategy::InPlace {
            // Giving a shared memory 1's pages back in place would race the threads: refused, and the error says what to use.
            let message = load_text_on(strategy, text, &multimem_runtime::engine_on_demand()?).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(message.contains("the in-place strategy") && message.contains("use recreate"), "{message}");
            continue;
        }
        let mut prover = load_text(strategy, text).map_err(|e| e.context(format!("loading under {strategy}")))?;
        // Before setup the prover exits: the start function ran and left .bss zeroed.
        let err = prove(&mut prover, 1).expect_err("prove before setup");
        assert!(format!("{err:#}").contains("proc_exit(71)"), "{strategy}: {err:#}");
        assert_eq!(prover.call("setup", &[Val::I32(KEYS as i32)])?[0].unwrap_i32(), 0);
        let pages = prover.memory0_pages();
        for seed in 1..=3u64 {
            let proof = prove(&mut prover, seed).map_err(|e| e.context(format!("proof {seed} under {strategy}")))?;
            // Setup's keys survived (the start function did not run again), WASI reached guest memory.
            assert_eq!(proof, [seed, keys, CLOCK, u64::from_le_bytes([0xa5; 8]), 48 * seed], "{strategy}, seed {seed}");
        }
        if strategy == Strategy::Fork {
            assert_eq!(prover.memory0_pages(), pages, "fork: the proofs' growth stayed in them");
        }
    }
    Ok(())
}

#[test]
fn fork_takes_the_module_as_shipped() -> anyhow::Result<()> {
    let mut prover = load_module(Strategy::Fork, &wat::parse_str(FIXTURE)?)?;
    prover.call("setup", &[Val::I32(KEYS as i32)])?;
    let pages = prover.memory0_pages();
    assert_eq!(prove(&mut prover, 7)?[0], 7);
    assert_eq!(prover.memory0_pages(), pages);
    Ok(())
}

/// RSS counts memory 0 whatever the strategy: the view strategies keep it in
/// a memfd that is unmapped between calls, which the kernel's RSS leaves out.
#[test]
fn rss_counts_memory_0_under_every_strategy() -> anyhow::Result<()> {
    const KEYS: u32 = 64 << 20;
    for strategy in Strategy::ALL {
        let mut prover = load(strategy)?;
        let before = multimem_runtime::rss_bytes();
        prover.call("setup", &[Val::I32(KEYS as i32)])?;
        let (_, metrics) = prover.prove(|p| p.call("proof_len", &[]));
        let grown = metrics.rss_bytes.saturating_sub(before);
        assert!(grown >= (KEYS as u64) * 9 / 10, "{strategy}: RSS grew {} MiB with 64 MiB of keys in memory 0", grown >> 20);
    }
    Ok(())
}

