//! Run a module and its transform in wasmtime with the same inputs and compare
//! what a caller can observe: results, trap kinds, exported globals, memory 0.

use anyhow::Result;
use multimem_transform::abi::EXPORT_GLOBAL_PREFIX;
pub use wasmtime::Engine;
use wasmtime::{Config, Extern, Instance, Module, Store, Trap, Val, ValType};

/// Fuel for the original; the transformed module gets [`FUEL_FACTOR`] times
/// as much, since dispatch adds instructions to every access.
pub const FUEL: u64 = 200_000;
pub const FUEL_FACTOR: u64 = 64;

/// What one run showed, as comparable text.
#[derive(Debug, PartialEq, Eq)]
pub struct Observed {
    pub calls: Vec<String>,
    pub globals: Vec<String>,
    pub memory: Option<Vec<u8>>,
}

pub fn engine() -> Engine {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .wasm_threads(true)
        .shared_memory(true)
        .wasm_multi_memory(true);
    Engine::new(&config).expect("engine")
}

/// How one run of a module ended.
pub enum Outcome {
    Observed(Observed),
    /// Fuel ran out or the stack overflowed in this export, or (`None`) in
    /// the start function. How deep a stack goes is the engine's (the
    /// transformed module's frames are larger), so what a call wrote before
    /// it overflowed is not compared.
    LeftOut(Option<String>),
}

/// Compares `original` with `transformed`. An export that runs out of fuel or
/// overflows the stack on the original is left out and both run again
/// without it (in a module of dozens of functions, one endless loop would
/// otherwise void the case); `Ok(false)` when the start function does (no
/// verdict). `Err` describes a difference.
pub fn compare(engine: &Engine, original: &[u8], transformed: &[u8], seed: u64) -> Result<bool, String> {
    // An original the engine cannot run (a feature wasmtime lacks here) gives no verdict.
    let Ok(original) = Module::new(engine, original) else { return Ok(false) };
    let mut skip = Vec::new();
    let expected = loop {
        match observe(engine, &original, FUEL, seed, &skip) {
            Ok(Outcome::Observed(observed)) => break observed,
            Ok(Outcome::LeftOut(Some(export))) => skip.push(export),
            Ok(Outcome::LeftOut(None)) | Err(_) => return Ok(false),
        }
    };
    let transformed = Module::new(engine, transformed).map_err(|e| format!("transformed does not compile: {e:#}"))?;
    let actual = match observe(engine, &transformed, FUEL * FUEL_FACTOR, seed, &skip) {
        Ok(Outcome::Observed(observed)) => observed,
        Ok(Outcome::LeftOut(export)) => return Err(format!("transformed ran out of fuel or stack in {export:?} where the original did not")),
        Err(e) => return Err(format!("transformed does not run: {e:#}")),
    };
    if expected.calls != actual.calls {
        return Err(format!("results differ:\noriginal    {:?}\ntransformed {:?}", expected.calls, actual.calls));
    }
    if expected.globals != actual.globals {
        return Err(format!("globals differ:\noriginal    {:?}\ntransformed {:?}", expected.globals, actual.globals));
    }
    if expected.memory != actual.memory {
        let (a, b) = (expected.memory.unwrap_or_default(), actual.memory.unwrap_or_default());
        let at = a.iter().zip(&b).position(|(x, y)| x != y);
        return Err(format!("memory 0 differs (sizes {} and {}, first difference at {at:?})", a.len(), b.len()));
    }
    Ok(true)
}

/// Instantiates `wasm` and calls every exported function but those in `skip`
/// once, in name order.
pub fn observe(engine: &Engine, module: &Module, fuel: u64, seed: u64, skip: &[String]) -> Result<Outcome> {
    let mut store = Store::new(engine, ());
    store.set_fuel(fuel)?;
    let mut calls = Vec::new();
    let instance = match Instance::new(&mut store, module, &[]) {
        Ok(i) => i,
        Err(e) => {
            return Ok(match e.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel | Trap::StackOverflow) => Outcome::LeftOut(None),
                Some(t) => Outcome::Observed(Observed { calls: vec![format!("start: {t:?}")], globals: vec![], memory: None }),
                None => return Err(e.into()),
            })
        }
    };
    let mut names: Vec<String> = module.exports().map(|e| e.name().to_owned()).filter(|n| !n.starts_with("multimem.")).collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        if skip.contains(name) {
            continue;
        }
        let Some(func) = instance.get_func(&mut store, name) else { continue };
        let ty = func.ty(&store);
        let args: Vec<Val> = ty.params().enumerate().map(|(j, t)| arg(&t, seed.wrapping_add((i * 31 + j) as u64))).collect();
        let mut results: Vec<Val> = ty.results().map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0))).collect();
        match func.call(&mut store, &args, &mut results) {
            Ok(()) => calls.push(format!("{name}: {}", results.iter().map(show).collect::<Vec<_>>().join(" "))),
            Err(e) => match e.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel | Trap::StackOverflow) => return Ok(Outcome::LeftOut(Some(name.clone()))),
                Some(t) => calls.push(format!("{name}: trap {}", trap(t))),
                None => calls.push(format!("{name}: error {e}")),
            },
        }
    }
    let mut globals = Vec::new();
    let mut memory = None;
    for name in &names {
        match instance.get_export(&mut store, name) {
            Some(Extern::Global(g)) => globals.push(format!("{name}={}", show(&g.get(&mut store)))),
            Some(Extern::Memory(m)) if memory.is_none() => memory = Some(m.data(&store).to_vec()),
            Some(Extern::SharedMemory(m)) if memory.is_none() => {
                memory = Some(m.data().iter().map(|c| unsafe { *c.get() }).collect())
            }
            _ => {}
        }
    }
    debug_assert!(!globals.iter().any(|g| g.starts_with(EXPORT_GLOBAL_PREFIX)));
    Ok(Outcome::Observed(Observed { calls, globals, memory }))
}

/// Arguments that mix small values, boundaries and seeded noise.
pub fn arg(ty: &ValType, seed: u64) -> Val {
    let x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
    let small = [0u64, 1, 8, 0xffff, 0x1_0000, 0xffff_fff0, 0x7fff_ffff][(seed % 7) as usize];
    let v = if seed % 3 == 0 { x } else { small };
    match ty {
        ValType::I32 => Val::I32(v as i32),
        ValType::I64 => Val::I64(v as i64),
        ValType::F32 => Val::F32((v as u32) & 0x7f7f_ffff),
        ValType::F64 => Val::F64(v & 0x7fef_ffff_ffff_ffff),
        ValType::V128 => Val::V128((v as u128 | (x as u128) << 64).into()),
        ValType::Ref(r) => Val::null_ref(r.heap_type()),
    }
}

/// A trap as the checks compare it. Out of bounds and misaligned are one
/// kind here: an atomic access at or above the split (outside what the
/// transform promises) whose effective address passes 4 GiB traps out of
/// bounds in the original (wasmtime checks that overflow before alignment)
/// and misaligned once routed to memory 1, where the address no longer
/// overflows. The wasm spec has one trap for both.
pub fn trap(t: &Trap) -> String {
    match t {
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => "memory access out of bounds or misaligned".into(),
        t => format!("{t:?}"),
    }
}

pub fn show(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("{x}"),
        Val::I64(x) => format!("{x}"),
        Val::F32(x) => format!("f32:{x:#x}"),
        Val::F64(x) => format!("f64:{x:#x}"),
        Val::V128(x) => format!("v128:{:#x}", x.as_u128()),
        Val::FuncRef(f) => format!("funcref:{}", f.is_some()),
        Val::ExternRef(r) => format!("externref:{}", r.is_some()),
        other => format!("ref:{}", other.ref_().is_some_and(|r| !r.is_null())),
    }
}
