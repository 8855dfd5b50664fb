//! Routing a module's own allocator to memory 1 (see multimem-transform's
//! `route`), on a small module with a C-style allocator: where allocations
//! land, what frees and reallocs do by tag, stale pointers after a proof,
//! the escape check, refusals, and a model-checked program of allocations
//! across proofs (the `route` fuzz target runs the same with generated programs).

use multimem_runtime::Strategy;
use multimem_tests::routing::{call, fixture, load, routed, run_program, Op};
use multimem_transform::{Options, Route};

const SPLIT: u32 = multimem_transform::DEFAULT_SPLIT;

fn engine() -> wasmtime::Engine {
    multimem_runtime::engine_for(Strategy::Recreate).unwrap()
}

#[test]
fn proof_time_allocations_land_in_memory1_and_memory0_stays_flat() -> anyhow::Result<()> {
    let engine = engine();
    let mut prover = load(&engine, &routed(false)?, Strategy::Recreate)?;
    let kept = prover.run(|s| call(s, "malloc", &[100]))? as u32;
    assert!(kept < SPLIT, "outside a proof, memory 0");
    let pages = prover.memory0_pages();
    for _ in 0..3 {
        let (sum, metrics) = prover.prove(|s| {
            let p = call(s, "malloc", &[1 << 20])?;
            assert!(p as u32 >= SPLIT, "during a proof, memory 1: {p:#x}");
            call(s, "fill", &[p, 1 << 20, 3])?;
            let sum = call(s, "sum", &[p, 1 << 20])?;
            call(s, "free", &[p])?;
            Ok(sum)
        });
        assert_eq!(sum?, 3 << 20);
        assert_eq!(prover.memory0_pages(), pages, "a 1 MiB proof-time buffer did not grow memory 0");
        let heap = metrics.heap.expect("the proof had a heap");
        assert!(heap.peak_live >= 1 << 20 && heap.live == 0, "{heap:?}");
    }
    Ok(())
}

#[test]
fn memory0_objects_keep_their_memory_and_their_allocator() -> anyhow::Result<()> {
    let engine = engine();
    let mut prover = load(&engine, &routed(false)?, Strategy::Recreate)?;
    let p = prover.run(|s| {
        let p = call(s, "malloc", &[64])?;
        call(s, "fill", &[p, 64, 7])?;
        Ok(p)
    })?;
    let free_before = prover.run(|s| call(s, "free_blocks", &[]))?;
    let (q, _) = prover.prove(|s| {
        let q = call(s, "realloc", &[p, 4096])?;
        assert!((q as u32) < SPLIT, "realloc keeps a memory-0 object in memory 0");
        assert_eq!(call(s, "sum", &[q, 64])?, 7 * 64);
        call(s, "free", &[q])?;
        Ok(q)
    });
    q?;
    // The old block (realloc) and the new one (free) went back to the module's own free list.
    assert_eq!(prover.run(|s| call(s, "free_blocks", &[]))?, free_before + 2);
    Ok(())
}

/// A pointer kept from one proof never reads the next proof's data: the heap
/// starts low in even proofs and at half of memory 1 in odd ones, so an even
/// proof's pointer lands in pages the odd proof never writes (zero), and an
/// odd proof's pointer lies beyond the next even proof's memory 1 (a trap).
#[test]
fn stale_pointers_trap_or_read_untouched_pages() -> anyhow::Result<()> {
    let engine = engine();
    let mut prover = load(&engine, &routed(false)?, Strategy::Recreate)?;
    let fill = |prover: &mut multimem_runtime::Prover<()>, byte: i32| {
        prover
            .prove(|s| {
                // The same allocations every proof: the same addresses if the heap did not move.
                let p = call(s, "malloc", &[256])?;
                call(s, "fill", &[p, 256, byte])?;
                let q = call(s, "malloc", &[256])?;
                call(s, "fill", &[q, 256, byte])?;
                call(s, "keep", &[p])?;
                Ok((p, call(s, "read_kept", &[])?))
            })
            .0
    };
    let (even, read) = fill(&mut prover, 0x11)?;
    assert_eq!(read, 0x11111111);
    // The next proof (odd) writes its own data; the kept pointer reads zeroes, not that data.
    let (odd, _) = prover
        .prove(|s| {
            let stale = call(s, "kept", &[])?;
            let p = call(s, "malloc", &[256])?;
            call(s, "fill", &[p, 256, 0x22])?;
            let q = call(s, "malloc", &[256])?;
            call(s, "fill", &[q, 256, 0x22])?;
            assert_eq!(call(s, "read_kept", &[])?, 0, "stale pointer {stale:#x} read something");
            call(s, "keep", &[p])?;
            Ok((p, stale))
        })
        .0?;
    assert_ne!(even, odd);
    // The proof after that (even): the odd proof's pointer is beyond memory 1.
    let (result, _) = prover.prove(|s| {
        let p = call(s, "malloc", &[256])?;
        call(s, "fill", &[p, 256, 0x33])?;
        call(s, "read_kept", &[])
    });
    let error = format!("{:#}", result.unwrap_err());
    assert!(error.contains("out of bounds"), "{error}");
    // Outside a proof a stale pointer is ignored by free and refused by realloc.
    prover.run(|s| {
        let kept = call(s, "kept", &[])?;
        call(s, "free", &[kept])?;
        assert_eq!(call(s, "realloc", &[kept, 10])?, 0);
        Ok(())
    })?;
    Ok(())
}

#[test]
fn escapes_are_reported_with_the_function_that_stored_them() -> anyhow::Result<()> {
    let engine = engine();
    let wasm = routed(true)?;
    let sites = multimem_transform::escapes::sites(&wasm);
    let mut prover = load(&engine, &wasm, Strategy::Recreate)?;
    let (escapes, metrics) = prover.prove(|s| {
        let p = call(s, "malloc", &[32])?;
        assert_eq!(call(s, "on_stack", &[p])?, p, "kept on the stack: not an escape");
        let outside = call(s, "malloc", &[8])?;
        call(s, "keep", &[p])?;
        let _ = outside;
        Ok(s.escapes())
    });
    let escapes = escapes?;
    assert_eq!(escapes.len(), 1, "{escapes:?}");
    assert_eq!(escapes[0].address, 1024);
    assert_eq!(sites[escapes[0].site as usize], "keep");
    assert_eq!(metrics.heap.unwrap().escapes, 1);
    Ok(())
}

#[test]
fn routed_and_unrouted_agree() -> anyhow::Result<()> {
    let engine = engine();
    let plain = multimem_transform::transform(&fixture(), &Options::default())?;
    let mut results = Vec::new();
    for wasm in [plain, routed(false)?] {
        let mut prover = load(&engine, &wasm, Strategy::Recreate)?;
        let mut seen = Vec::new();
        for round in 1..4 {
            let (r, _) = prover.prove(|s| {
                let p = call(s, "malloc", &[1000 * round])?;
                call(s, "fill", &[p, 1000 * round, round])?;
                let p = call(s, "realloc", &[p, 5000 * round])?;
                let sum = call(s, "sum", &[p, 1000 * round])?;
                call(s, "free", &[p])?;
                Ok(sum)
            });
            seen.push(r?);
        }
        results.push(seen);
    }
    assert_eq!(results[0], results[1]);
    Ok(())
}

#[test]
fn refusals_say_what_to_pass() {
    let on = Options { route: Route::On, ..Options::default() };
    let no_allocator = wat::parse_str(r#"(module (memory 1) (func (export "f") (param i32) (result i32) local.get 0 i32.load))"#).unwrap();
    let error = format!("{:#}", multimem_transform::transform(&no_allocator, &on).unwrap_err());
    assert!(error.contains("--allocator") && error.contains("--no-route"), "{error}");

    let shared = fixture_text().replace("(memory (export \"memory\") 4)", "(memory (export \"memory\") 4 100 shared)");
    let error = format!("{:#}", multimem_transform::transform(&wat::parse_str(shared).unwrap(), &on).unwrap_err());
    assert!(error.contains("shared") && error.contains("--no-route"), "{error}");

    // A guest that links the SDK routes itself: transformed, not routed.
    let sdk = r#"(module (import "multimem" "proof_active" (func (result i32))) (memory 1)
        (func (export "malloc") (param i32) (result i32) local.get 0) (func (export "free") (param i32)))"#;
    let (_, report) = multimem_transform::transform_with_report(&wat::parse_str(sdk).unwrap(), &on).unwrap();
    assert!(report.routed.is_none());
}

fn fixture_text() -> String {
    multimem_tests::routing::FIXTURE.to_string()
}

#[test]
fn allocator_named_by_hand_in_a_stripped_module() -> anyhow::Result<()> {
    // No names, no telling exports: found only when named.
    let stripped = fixture_text().replace("(export \"malloc\")", "(export \"a\")").replace("(export \"free\")", "(export \"b\")").replace("(export \"realloc\")", "(export \"c\")");
    let wasm = wat::parse_str(&stripped)?;
    let wasm = strip_names(&wasm);
    let found = multimem_transform::inspect::run(&wasm)?;
    assert!(found.allocator.family.is_none() && !found.routing.routable);
    let manual = multimem_transform::find_allocator::parse_manual("malloc=a,free=b,realloc=c").map_err(anyhow::Error::msg)?;
    let options = Options { route: Route::On, allocator: manual, ..Options::default() };
    let out = multimem_transform::transform(&wasm, &options)?;
    let engine = engine();
    let mut prover = load(&engine, &out, Strategy::Recreate)?;
    let (p, _) = prover.prove(|s| call(s, "a", &[64]));
    assert!(p? as u32 >= SPLIT);
    Ok(())
}

fn strip_names(wasm: &[u8]) -> Vec<u8> {
    let mut module = walrus::Module::from_buffer(wasm).unwrap();
    for f in module.funcs.iter_mut() {
        f.name = None;
    }
    module.emit_wasm()
}

/// Fixed-seed programs of allocations across proofs, against the model (the fuzz target runs generated ones).
#[test]
fn programs_across_proofs_match_the_model() -> anyhow::Result<()> {
    let engine = engine();
    let wasm = routed(false)?;
    for seed in 0..12u64 {
        let mut bytes = vec![0u8; 600];
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for b in &mut bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let mut u = arbitrary::Unstructured::new(&bytes);
        let ops: Vec<Op> = u.arbitrary()?;
        let strategy = if seed % 3 == 2 { Strategy::InPlace } else { Strategy::Recreate };
        run_program(&engine, &wasm, strategy, &ops).map_err(|e| anyhow::anyhow!("seed {seed} ({strategy:?}): {e:#}\n{ops:?}"))?;
    }
    Ok(())
}
