//! Real inputs: rustc (with and without threads and SIMD), wasm-bindgen, clang/wasi-sdk
//! and emscripten modules, up to 20 MB, some importing a shared memory 0 with
//! passive data segments. Each transforms, validates (inside `transform`), and
//! without versioning every memory-0 access keeps its original and gains a
//! memory-1 twin, unless its address is constant or provably persistent; with
//! versioning (the default) no access is lost (the download needs the npm
//! registry).

use std::collections::BTreeMap;

use multimem_tests::corpus::{fetch, CORPUS};
use multimem_transform::{inspect, Options};

fn counts(facts: &inspect::Facts, memory: u32) -> BTreeMap<&'static str, u64> {
    facts
        .memory_instructions
        .iter()
        .filter_map(|(kind, per)| per.get(&memory).map(|n| (*kind, *n)))
        .filter(|(kind, _)| !matches!(*kind, "size" | "grow"))
        .collect()
}

#[test]
fn real_world_modules_transform() -> anyhow::Result<()> {
    for entry in CORPUS {
        let wasm = fetch(entry)?;
        let before = inspect::run(&wasm)?;
        assert!(before.transformable, "{}: {:?}", entry.name, before.reason);
        let memory0 = &before.memories[0];
        assert_eq!(memory0.imported.is_some() && memory0.shared, entry.imported_shared_memory, "{}", entry.name);

        let options = Options { version: false, ..Options::default() };
        let (out, report) = multimem_transform::transform_with_report(&wasm, &options)?;
        let after = inspect::run(&out)?;
        let name = entry.name;
        assert_eq!(after.memories.len(), 2, "{name}");
        assert_eq!(after.memories[1].shared, memory0.shared, "{name}: memory 1 shared iff memory 0 is");
        assert_eq!(after.memories[0].maximum_pages, memory0.maximum_pages, "{name}: memory 0 keeps its declared maximum");
        assert_eq!(after.memories[0].imported, memory0.imported, "{name}: memory 0 stays imported");

        let (original, kept, twins) = (counts(&before, 0), counts(&after, 0), counts(&after, 1));
        // A copy becomes four, one per source/destination pair: three touch each memory.
        let copies_as_four = |(k, n): (&&'static str, &u64)| (*k, if *k == "copy" { 3 * n } else { *n });
        let expected_kept: BTreeMap<_, _> = original.iter().map(copies_as_four).collect();
        assert_eq!(expected_kept, kept, "{name}: every memory-0 access is kept as the untagged arm");
        let expected_twins: u64 = expected_kept.values().sum();
        let actual_twins: u64 = twins.values().sum();
        let r = &report.rewritten;
        assert_eq!(
            actual_twins + r.constant_address + r.persistent_address,
            expected_twins,
            "{name}: memory-1 twins {twins:?} (+{} constant, +{} persistent addresses) for {original:?}",
            r.constant_address,
            r.persistent_address
        );
        let (versioned, v) = multimem_transform::transform_with_report(&wasm, &Options::default())?;
        let kept_versioned = counts(&inspect::run(&versioned)?, 0);
        for (kind, n) in &original {
            assert!(kept_versioned.get(kind).copied().unwrap_or(0) >= *n, "{name}: versioned copies keep every {kind}");
        }
        eprintln!(
            "{name} ({}): {} -> {} bytes ({} versioned), {} accesses dispatched, {} persistent; versioned: {} functions, {} loops",
            entry.producer,
            wasm.len(),
            out.len(),
            versioned.len(),
            r.dispatched(),
            r.persistent_address,
            v.rewritten.versioned_functions,
            v.rewritten.versioned_loops
        );
    }
    Ok(())
}

/// Routing on the corpus: `inspect` finds each module's allocator or says
/// why not, and where routing applies the routed module validates.
#[test]
fn real_world_modules_route_or_say_why_not() -> anyhow::Result<()> {
    let on = Options { route: multimem_transform::Route::On, version: false, ..Options::default() };
    for entry in CORPUS {
        let wasm = fetch(entry)?;
        let facts = inspect::run(&wasm)?;
        let name = entry.name;
        let verdict = facts.routing.reason.clone().unwrap_or_else(|| "routable".into());
        eprintln!("{name}: allocator {}; {verdict}", facts.allocator.summary());
        let routed = multimem_transform::transform_with_report(&wasm, &on);
        match (facts.routing.routable, routed) {
            (true, Ok((_, report))) => {
                let r = report.routed.expect("routed");
                assert_eq!(r.wrapped, facts.allocator.entries.len(), "{name}");
            }
            (false, Err(e)) => {
                let e = format!("{e:#}");
                assert!(e.contains("--no-route"), "{name}: the refusal says what to pass: {e}");
                if entry.imported_shared_memory {
                    assert!(e.contains("shared"), "{name}: {e}");
                }
            }
            (routable, other) => panic!("{name}: inspect says routable={routable}, transform gave {:?}", other.map(|(_, r)| r.routed)),
        }
    }
    Ok(())
}
