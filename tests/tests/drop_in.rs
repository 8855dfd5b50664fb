//! Drop-in output: a transformed module accepts every memory (and every other
//! import) its original accepted, keeps the original's exports and start
//! function, and memory 0 stops growing at the split inside the module.
//! (`js/test/drop-in.test.js` does the same in Node 22 for the whole corpus
//! and runs real glue; see `tests/tests/node.rs`.)

use anyhow::{Context, Result};
use multimem_tests::corpus::{fetch, CORPUS};
use multimem_transform::{inspect, Options};
use wasmtime::{Config, Engine, Extern, ExternType, Func, Global, Instance, Memory, Module, Ref, SharedMemory, Store, Table, Val, ValType};

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.shared_memory(true);
    // Compiling megabytes of code only to link it: the fastest compile is enough.
    config.cranelift_opt_level(wasmtime::OptLevel::None);
    Ok(Engine::new(&config)?)
}

/// What a host of the original creates for each import: the memory (shared or
/// not) with the declared limits, stub functions that trap, tables and globals.
fn host_imports(store: &mut Store<()>, module: &Module) -> Result<Vec<Extern>> {
    let mut externs = Vec::new();
    for import in module.imports() {
        let what = format!("{}.{}", import.module(), import.name());
        let made: Extern = match import.ty() {
            ExternType::Memory(ty) if ty.is_shared() => SharedMemory::new(store.engine(), ty)?.into(),
            ExternType::Memory(ty) => Memory::new(&mut *store, ty)?.into(),
            ExternType::Func(ty) => {
                let name = what.clone();
                Func::new(&mut *store, ty, move |_, _, _| Err(wasmtime::Error::msg(format!("stub {name} called")))).into()
            }
            ExternType::Table(ty) => {
                let init = Ref::null(ty.element().heap_type());
                Table::new(&mut *store, ty, init)?.into()
            }
            ExternType::Global(ty) => {
                let value = match ty.content() {
                    ValType::I32 => Val::I32(0),
                    ValType::I64 => Val::I64(0),
                    ValType::F32 => Val::F32(0),
                    ValType::F64 => Val::F64(0),
                    other => anyhow::bail!("{what}: global of type {other}"),
                };
                Global::new(&mut *store, ty, value)?.into()
            }
            ExternType::Tag(_) => anyhow::bail!("{what}: tag imports are not used by the corpus"),
        };
        externs.push(made);
    }
    Ok(externs)
}

/// Instantiates `original` and `transformed` against what the original's host creates.
fn instantiate_both(engine: &Engine, original: &[u8], transformed: &[u8], name: &str) -> Result<()> {
    let (original, transformed) = (Module::new(engine, original)?, Module::new(engine, transformed)?);
    let names = |m: &Module| m.imports().map(|i| format!("{}.{}", i.module(), i.name())).collect::<Vec<_>>();
    assert_eq!(names(&original), names(&transformed), "{name}: the same imports, in the same order");
    for export in original.exports() {
        let kept = transformed.get_export(export.name()).with_context(|| format!("{name}: export {} is gone", export.name()))?;
        assert_eq!(kind(&export.ty()), kind(&kept), "{name}: export {} changed kind", export.name());
    }
    for (module, label) in [(&original, "original"), (&transformed, "transformed")] {
        let mut store = Store::new(engine, ());
        let imports = host_imports(&mut store, &original)?;
        let outcome = Instance::new(&mut store, module, &imports);
        // A start function may call a stub; linking is what this test is about.
        if let Err(e) = outcome {
            let text = format!("{e:#}");
            anyhow::ensure!(text.contains("stub "), "{name}: the {label} module does not link: {text}");
        }
    }
    Ok(())
}

fn kind(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => format!("func {f}"),
        ExternType::Global(g) => format!("global {:?} {:?}", g.content(), g.mutability()),
        ExternType::Table(t) => format!("table {}", t.element()),
        ExternType::Memory(_) => "memory".to_string(),
        ExternType::Tag(_) => "tag".to_string(),
    }
}

#[test]
fn transformed_corpus_modules_link_against_their_original_hosts_memories() -> Result<()> {
    let engine = engine()?;
    // Compiling is what takes time here (the big ones take minutes): an
    // emscripten module and a threaded one; Node links all six
    // (js/test/drop-in.test.js, tests/tests/node.rs).
    for entry in CORPUS.iter().filter(|e| ["sql_wasm", "oxc_parser"].contains(&e.name)) {
        let original = fetch(entry)?;
        let transformed = multimem_transform::transform(&original, &cli_defaults(&original)?)?;
        let (before, after) = (inspect::run(&original)?, inspect::run(&transformed)?);
        let (m0, t0) = (&before.memories[0], &after.memories[0]);
        assert_eq!((m0.initial_pages, m0.maximum_pages, m0.shared), (t0.initial_pages, t0.maximum_pages, t0.shared), "{}: memory 0 keeps its limits", entry.name);
        assert_eq!(before.start_function.is_some(), after.start_function.is_some(), "{}: start function kept", entry.name);
        instantiate_both(&engine, &original, &transformed, entry.name)?;
    }
    Ok(())
}

/// What `multimem transform` does by default: route the module's allocator
/// where inspect finds one, else leave it alone.
fn cli_defaults(wasm: &[u8]) -> Result<Options> {
    let routable = inspect::run(wasm)?.routing.routable;
    let route = if routable { multimem_transform::Route::On } else { multimem_transform::Route::Off };
    Ok(Options { route, ..Options::default() })
}

/// What wasm-bindgen's threads glue does: memory 0 imported shared, created
/// with `maximum: 65536`, above the split.
const THREADED: &str = r#"(module
  (import "wbg" "memory" (memory 17 65536 shared))
  (import "wbg" "log" (func (param i32)))
  (table (export "__indirect_function_table") 1 funcref)
  (global (export "__stack_pointer") (mut i32) (i32.const 1048576))
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size))"#;

#[test]
fn threaded_glue_memory_links_and_grow_stops_at_the_split() -> Result<()> {
    let engine = engine()?;
    let original = wat::parse_str(THREADED)?;
    // A split of 64 pages so that the test grows a few MiB, not 2 GiB.
    let split = 64 * 65536;
    let transformed = multimem_transform::transform(&original, &Options { split, ..Options::default() })?;
    instantiate_both(&engine, &original, &transformed, "threaded")?;

    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, &transformed)?;
    let imports = host_imports(&mut store, &module)?;
    let instance = Instance::new(&mut store, &module, &imports)?;
    let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow")?;
    let size = instance.get_typed_func::<(), i32>(&mut store, "size")?;
    assert_eq!(grow.call(&mut store, 47)?, 17, "growing to the split works");
    assert_eq!(size.call(&mut store, ())?, 64);
    assert_eq!(grow.call(&mut store, 1)?, -1, "one page past the split fails as out of memory");
    assert_eq!(grow.call(&mut store, -1)?, -1, "so does a huge grow (no wrap-around)");
    assert_eq!(size.call(&mut store, ())?, 64);
    assert_eq!(grow.call(&mut store, 0)?, 64, "a grow by 0 reports the size");

    // The original, with the same memory, grows past that point.
    let mut store = Store::new(&engine, ());
    let module = Module::new(&engine, &original)?;
    let imports = host_imports(&mut store, &module)?;
    let instance = Instance::new(&mut store, &module, &imports)?;
    let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow")?;
    assert_eq!(grow.call(&mut store, 48)?, 17);
    Ok(())
}
