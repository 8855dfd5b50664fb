//! The fork strategy on generated modules, checked against the original in
//! plain wasmtime: setup calls persist exactly as they do on the original; a
//! proof's calls give what the same calls give on the original after setup;
//! after the proof memory 0 (size and every byte) and every exported global
//! are exactly as before it, so the same proof run again gives the same
//! results. Shared by `fuzz/fuzz_targets/fork.rs` and `tests/tests/fork_fuzz.rs`.

use std::time::Duration;

use anyhow::Result;
use multimem_runtime::{Limits, Prover, Strategy};
use wasmtime::{Engine, Extern, Instance, Module, Store, Trap, Val};

use crate::differential::{arg, show, FUEL};

/// What a case came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fork agreed with the original and restored memory 0 and the globals.
    Held,
    /// No verdict: the original did not instantiate (or its start ran out of fuel).
    Skipped,
    /// The fork strategy refused the module at load, with this reason.
    Refused(String),
}

/// Memory 0's bytes and the exported globals, in name order.
#[derive(Debug, PartialEq, Eq)]
struct State {
    memory: Vec<u8>,
    globals: Vec<String>,
}

/// The engine the original runs on: fuel, and the fork engine's float
/// behaviour. Not `differential::engine()`, whose NaN canonicalisation gave a
/// v128 global another NaN payload than fork's engine (the wasm spec leaves
/// NaN bits to the engine; the view form changes no float instruction).
pub fn plain_engine() -> Engine {
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true).wasm_threads(true).shared_memory(true).wasm_multi_memory(true);
    Engine::new(&config).expect("engine")
}

/// wasm-smith modules for fork: the differential configuration, memories of
/// at most 4 MiB (each check reads memory 0 whole, three times).
pub fn config() -> wasm_smith::Config {
    let mut c = crate::smith::differential();
    c.max_memory32_bytes = 4 << 20;
    c
}

/// The exported functions in name order: setup calls each once, then a proof
/// calls each once with other arguments.
fn functions(module: &Module) -> Vec<String> {
    let mut names: Vec<String> =
        module.exports().filter(|e| e.ty().func().is_some()).map(|e| e.name().to_owned()).filter(|n| !n.starts_with("multimem.")).collect();
    names.sort();
    names
}

fn args(func: &wasmtime::FuncType, seed: u64, call: usize) -> Vec<Val> {
    func.params().enumerate().map(|(j, t)| arg(&t, seed.wrapping_add((call * 31 + j) as u64))).collect()
}

/// What the original did: the functions called (those that ran out of fuel
/// or stack left out), setup calls' outcomes, the state after setup, the
/// proof calls' outcomes.
struct Expected {
    names: Vec<String>,
    setup: Vec<String>,
    after_setup: State,
    proof: Vec<String>,
}

/// The original in plain wasmtime with fuel. A function that runs out of fuel
/// or overflows the stack is left out and the run starts again without it (in
/// a module of dozens of functions, one endless loop would otherwise void the
/// case; how deep a stack goes is the engine's, and the view form's frames
/// are larger). `None` when it does not instantiate or a call fails other
/// than by a trap.
fn expected(engine: &Engine, module: &Module, seed: u64) -> Option<Expected> {
    let mut names = functions(module);
    loop {
        let mut store = Store::new(engine, ());
        store.set_fuel(FUEL).ok()?;
        let instance = Instance::new(&mut store, module, &[]).ok()?;
        let outcomes = call_each(&mut store, instance, &names, seed).and_then(|setup| {
            let after_setup = plain_state(&mut store, &instance, module);
            Ok((setup, after_setup, call_each(&mut store, instance, &names, seed ^ PROOF_SALT)?))
        });
        match outcomes {
            Ok((setup, after_setup, proof)) => return Some(Expected { names, setup, after_setup, proof }),
            Err(e) => {
                let LeftOut(name) = e.downcast_ref::<LeftOut>()?;
                names.retain(|n| n != name);
            }
        }
    }
}

/// Fuel ran out or the stack overflowed in this function.
#[derive(Debug)]
struct LeftOut(String);

impl std::fmt::Display for LeftOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ran out of fuel or stack", self.0)
    }
}

impl std::error::Error for LeftOut {}

const PROOF_SALT: u64 = 0x5eed_0f_f0_4b;

fn plain_state(store: &mut Store<()>, instance: &Instance, module: &Module) -> State {
    let mut memory = Vec::new();
    let mut globals = Vec::new();
    let mut names: Vec<String> = module.exports().map(|e| e.name().to_owned()).collect();
    names.sort();
    for name in names {
        match instance.get_export(&mut *store, &name) {
            Some(Extern::Global(g)) => globals.push(format!("{name}={}", show(&g.get(&mut *store)))),
            Some(Extern::Memory(m)) => memory = m.data(&*store).to_vec(),
            Some(Extern::SharedMemory(m)) => memory = m.data().iter().map(|c| unsafe { *c.get() }).collect(),
            _ => {}
        }
    }
    State { memory, globals }
}

/// Calls each function of `names` once, in order, with arguments from
/// `seed`: each outcome (results or trap) as text. An error ([`LeftOut`]
/// when fuel or stack runs out) when a call fails other than by a trap.
fn call_each(store: &mut Store<()>, instance: Instance, names: &[String], seed: u64) -> Result<Vec<String>> {
    let mut outcomes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let func = instance.get_func(&mut *store, name).ok_or_else(|| anyhow::anyhow!("`{name}` is not exported"))?;
        let ty = func.ty(&*store);
        let mut results: Vec<Val> = ty.results().map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0))).collect();
        let outcome = match func.call(&mut *store, &args(&ty, seed, i), &mut results) {
            Ok(()) => results.iter().map(show).collect::<Vec<_>>().join(" "),
            Err(e) => match e.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel | Trap::StackOverflow) => return Err(LeftOut(name.clone()).into()),
                None => anyhow::bail!("`{name}` failed: {e:#}"),
                Some(t) => format!("trap {}", crate::differential::trap(t)),
            },
        };
        outcomes.push(format!("{name}: {outcome}"));
    }
    Ok(outcomes)
}

/// Memory 0 as the prover holds it (no proof active) and the exported globals.
fn fork_state(prover: &mut Prover<()>, exports: &[String]) -> Result<State> {
    let pages = prover.memory0_pages();
    prover.run(|s| {
        let memory = s.read(0, u32::try_from(pages * 65536)?)?;
        let instance = s.instance();
        let mut globals = Vec::new();
        for name in exports {
            if let Some(g) = instance.get_global(s.store(), name) {
                globals.push(format!("{name}={}", show(&g.get(s.store()))));
            }
        }
        Ok(State { memory, globals })
    })
}

fn differs(what: &str, expected: &impl std::fmt::Debug, actual: &impl std::fmt::Debug) -> anyhow::Error {
    anyhow::anyhow!("{what}:\nexpected {expected:?}\nactual   {actual:?}")
}

/// Checks one module under fork; `Err` describes what did not hold.
pub fn check(plain: &Engine, fork: &Engine, wasm: &[u8], seed: u64) -> Result<Verdict> {
    let Ok(module) = Module::new(plain, wasm) else { return Ok(Verdict::Skipped) };
    let Some(Expected { names, setup, after_setup, proof }) = expected(plain, &module, seed) else { return Ok(Verdict::Skipped) };
    let limits = Limits { deadline: Some(Duration::from_secs(20)), ..Limits::default() };
    let mut prover = match Prover::load(fork, &wasmtime::Linker::new(fork), wasm, Strategy::Fork, limits) {
        Ok(p) => p,
        Err(e) => return Ok(Verdict::Refused(format!("{e:#}"))),
    };
    let mut exports: Vec<String> = module.exports().map(|e| e.name().to_owned()).collect();
    exports.sort();

    let got = prover.run(|s| {
        let instance = s.instance();
        call_each(s.store(), instance, &names, seed)
    })?;
    if got != setup {
        return Err(differs("setup calls differ from the original's", &setup, &got));
    }
    let before = fork_state(&mut prover, &exports)?;
    if before != after_setup {
        let at = before.memory.iter().zip(&after_setup.memory).position(|(a, b)| a != b);
        return Err(differs(&format!("state after setup differs (memory 0 sizes {} and {}, first difference at {at:?}); globals", after_setup.memory.len(), before.memory.len()), &after_setup.globals, &before.globals));
    }
    for round in 1..=2 {
        let (got, _) = prover.prove(|s| {
            let instance = s.instance();
            call_each(s.store(), instance, &names, seed ^ PROOF_SALT)
        });
        let got = got?;
        if got != proof {
            return Err(differs(&format!("proof {round}'s calls differ from the original's"), &proof, &got));
        }
        let after = fork_state(&mut prover, &exports)?;
        if after != before {
            let at = after.memory.iter().zip(&before.memory).position(|(a, b)| a != b);
            return Err(differs(&format!("proof {round} changed memory 0 (sizes {} and {}, first difference at {at:?}) or the globals", before.memory.len(), after.memory.len()), &before.globals, &after.globals));
        }
    }
    Ok(Verdict::Held)
}
