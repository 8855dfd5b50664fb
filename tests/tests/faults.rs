//! Faults at every step of a proof, on the reference Groth16 (with the SDK)
//! and on halo2 (built unmodified, routed), under recreate and in place; on
//! Groth16 without the SDK and halo2 under fork, one proof at a time and one
//! faulted proof among several at once.
//!
//! The guest is instrumented before it is transformed: every function entry
//! counts down a global and, at zero, calls the host import `fault.fire`,
//! which injects the fault chosen for that proof. The point is drawn at
//! random among the function entries of a clean proof, so faults land
//! anywhere in the prove call (key loading, witness, FFTs, MSMs, the
//! transcript, the allocator itself). After every faulted proof:
//! - memory 0 has as many pages as before, and no byte changed outside the
//!   free stack and the words a clean proof writes too (statics such as the
//!   last proof's handle);
//! - the next proof verifies and is byte-identical to the same seed's proof
//!   before any fault (nothing the fault left behind changed the prover);
//! - over 50 faulted proofs RSS stays within 5% of RSS after the first.
//!
//! Under fork the check is exact: memory 0 (size and every byte) and every
//! exported global are as before the faulted proof.
//!
//! Tests hold one lock: RSS is the process's, so they run one at a time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use multimem::reference::{Guest, Reference};
use multimem_runtime::{rss_bytes, Limits, ProofMetrics, Session, Strategy};
use multimem_transform::abi::EXPORT_STACK_POINTER;
use multimem_transform::{Form, Options, Route};
use walrus::ir::{BinaryOp, UnaryOp};
use walrus::{ConstExpr, FunctionBuilder, ValType};
use wasmtime::{AsContextMut, Caller, Linker, ResourceLimiter, Val};

/// Groth16 constraints, halo2 rows (k = 4): every stage of both provers runs.
const SIZE: u32 = 1 << 4;
/// Faulted proofs under recreate (the RSS check's span); under the other strategies, two per fault.
const FAULTED_PROOFS: usize = 50;
const FAULTED_OTHERS: usize = 16;
/// The seed of the proof after each fault, and of the reference proof it must equal.
const RECOVERY_SEED: u64 = 1000;
/// Bytes each fork proof leaks.
const LEAK: u32 = 1 << 20;
const COUNTDOWN: &str = "fault_countdown";
const DISARMED: i64 = i64::MAX;

static SERIAL: Mutex<()> = Mutex::new(());

/// What is injected into one proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// `fault.fire` reports failure and the guest aborts (`unreachable`): a guest trap at a random point.
    GuestTraps,
    /// The host import returns an error: the call fails with the host's error, not a wasm trap.
    ImportErrs,
    /// The host import panics mid-proof; the test catches it.
    ImportPanics,
    /// The import sets a one-tick epoch deadline and the epoch advances: interrupted at the next check.
    Deadline,
    /// Memory 1 may not grow past a random size below a clean proof's peak: the allocation that needs more fails.
    Memory1Exhausted,
    /// The prove export returns, then the host's closure fails before copying the proof out.
    ClosureErrs,
    /// The prove export returns, then the host's closure panics.
    ClosurePanics,
    /// The proof succeeds but giving memory 1's pages back fails (in place; the runtime's seam).
    ReleaseFails,
}

impl Fault {
    const ALL: [Fault; 8] = [
        Fault::GuestTraps,
        Fault::ImportErrs,
        Fault::ImportPanics,
        Fault::Deadline,
        Fault::Memory1Exhausted,
        Fault::ClosureErrs,
        Fault::ClosurePanics,
        Fault::ReleaseFails,
    ];

    /// The fault as `fault.fire` sees it (0: nothing to do at the countdown).
    fn code(self) -> u8 {
        match self {
            Fault::GuestTraps => 1,
            Fault::ImportErrs => 2,
            Fault::ImportPanics => 3,
            Fault::Deadline => 4,
            _ => 0,
        }
    }

    /// What the error (or the caught panic) of a proof this fault failed says.
    fn expected(self) -> &'static str {
        match self {
            Fault::GuestTraps => "unreachable",
            Fault::ImportErrs => "injected host import error",
            Fault::ImportPanics => "injected: host import panic",
            Fault::Deadline => "interrupt",
            Fault::Memory1Exhausted => "unreachable",
            Fault::ClosureErrs => "gave up mid-proof",
            Fault::ClosurePanics => "panicked mid-proof",
            Fault::ReleaseFails => "",
        }
    }

    fn applies_to(self, strategy: Strategy) -> bool {
        // Under recreate, view and fork memory 1 goes with wasmtime's Store (fork
        // unmaps the proof's whole view with it): no release of ours to fail.
        self != Fault::ReleaseFails || strategy == Strategy::InPlace
    }
}

/// A deterministic generator (splitmix64): the same points on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// `wasm` with a countdown at every function entry that calls `fault.fire` at zero
/// and executes `unreachable` if fire returns non-zero.
fn instrument(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut module = walrus::Module::from_buffer(wasm)?;
    let fire_ty = module.types.add(&[], &[ValType::I32]);
    let (fire, _) = module.add_import_func("fault", "fire", fire_ty);
    let countdown = module.globals.add_local(ValType::I64, true, false, ConstExpr::Value(walrus::ir::Value::I64(DISARMED)));
    module.exports.add(COUNTDOWN, countdown);
    let mut tick = FunctionBuilder::new(&mut module.types, &[], &[]);
    tick.func_body()
        .global_get(countdown)
        .i64_const(1)
        .binop(BinaryOp::I64Sub)
        .global_set(countdown)
        .global_get(countdown)
        .unop(UnaryOp::I64Eqz)
        .if_else(
            None,
            |then| {
                then.call(fire).if_else(
                    None,
                    |abort| {
                        abort.unreachable();
                    },
                    |_| {},
                );
            },
            |_| {},
        );
    let tick = tick.finish(vec![], &mut module.funcs);
    for (id, func) in module.funcs.iter_local_mut() {
        if id != tick {
            func.builder_mut().func_body().instr_at(0, walrus::ir::Call { func: tick });
        }
    }
    Ok(module.emit_wasm())
}

/// The instrumented guest in the form `strategy` runs, as the CLI transforms it (routed).
/// Fork takes it as shipped and transforms it itself (view form, nothing routed).
fn module_for(guest: Guest, strategy: Strategy) -> Result<Vec<u8>> {
    let instrumented = instrument(guest.wasm())?;
    if strategy == Strategy::Fork {
        return Ok(instrumented);
    }
    let form = strategy.form().context("the matrix runs transformed strategies")?;
    let route = if form == Form::Portable { Route::On } else { Route::Off };
    multimem_transform::transform(&instrumented, &Options { form, route, ..Options::default() })
}

/// A `fault.fire` that injects whatever `mode` holds.
fn linker(engine: &wasmtime::Engine, mode: Arc<AtomicU8>) -> Result<Linker<()>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap("fault", "fire", move |mut caller: Caller<'_, ()>| -> wasmtime::Result<i32> {
        match mode.load(Ordering::Relaxed) {
            1 => Ok(1),
            2 => Err(wasmtime::format_err!("injected host import error")),
            3 => panic!("injected: host import panic"),
            4 => {
                // The deadline expires here: one tick left, and the tick passes now
                // (the runtime's 10 ms ticker may be starved on a loaded machine).
                caller.as_context_mut().set_epoch_deadline(1);
                caller.engine().increment_epoch();
                Ok(0)
            }
            _ => Ok(0),
        }
    })?;
    Ok(linker)
}

/// Bytes a memory may grow to during the current proof (`u64::MAX`: no cap).
static MEMORY_CAP: AtomicU64 = AtomicU64::new(u64::MAX);

/// Refuses growth past [`MEMORY_CAP`], as a host out of memory does: `memory.grow` returns -1.
struct Cap;

impl ResourceLimiter for Cap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired as u64 <= MEMORY_CAP.load(Ordering::Relaxed))
    }
    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// How a proof ended.
#[derive(Debug)]
enum Ended {
    Proved { bytes: Vec<u8>, entries: u64, release_failed: bool, memory1_pages: u64, memory0_proof_pages: u64, high_water: Option<u64> },
    Failed(String),
    Panicked(String),
}

/// One proof of `seed` with the countdown armed at `point` (`DISARMED`: none);
/// `after` fails the closure once the prove export returned.
fn prove(r: &mut Reference, seed: u64, point: i64, after: Option<Fault>) -> Ended {
    ended(catch_unwind(AssertUnwindSafe(|| r.prover().prove(|p| proof(p, seed, point, after)))))
}

/// The proof's body, in whichever session runs it: the proof's bytes and the function entries it made.
fn proof(p: &mut Session<'_, ()>, seed: u64, point: i64, after: Option<Fault>) -> Result<(Vec<u8>, u64)> {
    // A zero-sized limiter: leaking it allocates nothing.
    p.store().limiter(|_| Box::leak(Box::new(Cap)));
    let countdown = p.instance().get_global(p.store(), COUNTDOWN).context("no countdown export")?;
    countdown.set(p.store(), Val::I64(point))?;
    let status = p.call("prove", &[Val::I64(seed as i64)])?[0].unwrap_i32();
    ensure!(status == 0, "prove returned status {status}");
    match after {
        Some(Fault::ClosureErrs) => bail!("the host's closure gave up mid-proof"),
        Some(Fault::ClosurePanics) => panic!("injected: the host's closure panicked mid-proof"),
        _ => {}
    }
    let left = countdown.get(p.store()).unwrap_i64();
    countdown.set(p.store(), Val::I64(DISARMED))?;
    let ptr = p.call("proof_ptr", &[])?[0].unwrap_i32() as u32;
    let len = p.call("proof_len", &[])?[0].unwrap_i32() as u32;
    Ok((p.read(ptr, len)?, (point - left) as u64))
}

fn ended(run: std::thread::Result<(Result<(Vec<u8>, u64)>, ProofMetrics)>) -> Ended {
    match run {
        Ok((Ok((bytes, entries)), metrics)) => Ended::Proved {
            bytes,
            entries,
            release_failed: metrics.release_failed,
            memory1_pages: metrics.memory1_peak_pages,
            memory0_proof_pages: metrics.memory0_proof_pages,
            high_water: metrics.heap.map(|h| h.high_water),
        },
        Ok((Err(e), _)) => Ended::Failed(format!("{e:#}")),
        Err(panic) => Ended::Panicked(panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default()),
    }
}

/// Memory 0's bytes and the stack pointer, with no proof active.
fn memory0(r: &mut Reference) -> Result<(Vec<u8>, u32)> {
    let bytes = r.prover().memory0_pages() * multimem_transform::PAGE;
    r.prover().run(|s| {
        let sp = s.instance().get_global(s.store(), EXPORT_STACK_POINTER).context("no stack pointer export")?;
        let sp = sp.get(s.store()).unwrap_i32() as u32;
        Ok((s.read(0, bytes as u32)?, sp))
    })
}

/// Every exported global (the transform exports all mutable ones), with no proof active.
fn globals(r: &mut Reference) -> Result<Vec<String>> {
    r.prover().run(|s| {
        let instance = s.instance();
        let names: Vec<String> = instance.exports(s.store()).map(|e| e.name().to_owned()).collect();
        Ok(names.into_iter().filter_map(|name| instance.get_global(s.store(), &name).map(|g| format!("{name}={:?}", g.get(s.store())))).collect())
    })
}

/// Memory 0 (every byte) and every global: what a fork proof, faulted or not, must leave as it was.
fn exact_state(r: &mut Reference) -> Result<(Vec<u8>, Vec<String>)> {
    Ok((memory0(r)?.0, globals(r)?))
}

fn assert_same_state(before: &(Vec<u8>, Vec<String>), after: &(Vec<u8>, Vec<String>), what: &str) {
    assert_eq!(before.0.len(), after.0.len(), "{what}: memory 0 changed size");
    if let Some(at) = before.0.iter().zip(&after.0).position(|(a, b)| a != b) {
        panic!("{what}: memory 0 changed, first at byte {at:#x}");
    }
    assert_eq!(before.1, after.1, "{what}: a global changed");
}

/// Indices of the 8-byte words that differ between two snapshots, at or above the stack pointer
/// (below it is the free stack, which a trapped proof leaves as it was when it stopped).
fn changed_words(before: &[u8], after: &[u8], sp: u32) -> Vec<usize> {
    let from = sp as usize / 8;
    before.chunks(8).zip(after.chunks(8)).enumerate().skip(from).filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect()
}

/// One row of the matrix: how often a fault was injected, manifested, and held.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    injected: usize,
    /// Proofs the fault made fail (a fault after the guest's last allocation may not).
    failed: usize,
}

/// Injected panics are expected: printing each one's backtrace would load the test
/// binary's debug info into the process (tens of MiB of RSS at the first panic).
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<&str>().copied().unwrap_or_default();
            if !message.starts_with(INJECTED) {
                default(info);
            }
        }));
    });
}

const INJECTED: &str = "injected:";

fn matrix(guest: Guest, strategy: Strategy) -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    quiet_injected_panics();
    let engine = multimem_runtime::engine_for(strategy)?;
    let mode = Arc::new(AtomicU8::new(0));
    let wasm = module_for(guest, strategy)?;
    let limits = Limits { memory1_max_bytes: Some(64 << 20), deadline: Some(Duration::from_secs(60)), ..Limits::default() };
    let mut r = Reference::load_linked(&engine, guest, &wasm, &linker(&engine, mode.clone())?, strategy, limits)?;
    // Below memory 0's initial size: stack and statics; above it, what the allocator grew (the heap).
    let heap_word = (r.prover().memory0_pages() * multimem_transform::PAGE / 8) as usize;
    r.setup(SIZE)?;
    let fork = strategy == Strategy::Fork;
    if fork {
        // Each proof leaks too: its growth of memory 0 is then what a cap can cut
        // (at this size a clean proof fits in what setup grew), and must vanish with it.
        r.set_leak(LEAK)?;
    }
    let memory0_pages = r.prover().memory0_pages();

    // The reference proof, how many function entries a proof makes, and the words clean proofs write.
    let Ended::Proved { bytes: reference, entries, memory1_pages, memory0_proof_pages, high_water: reference_high_water, .. } = prove(&mut r, RECOVERY_SEED, DISARMED, None) else {
        bail!("{guest} under {strategy}: the clean proof failed")
    };
    ensure!(r.verify(&reference)?, "{guest} under {strategy}: the clean proof does not verify");
    let mut written = std::collections::BTreeSet::new();
    for seed in 1..=3 {
        let (before, sp) = memory0(&mut r)?;
        ensure!(matches!(prove(&mut r, seed, DISARMED, None), Ended::Proved { .. }), "clean proof {seed} failed");
        written.extend(changed_words(&before, &memory0(&mut r)?.0, sp));
    }
    eprintln!("{guest} under {strategy}: {entries} function entries per proof; clean proofs write {} words of memory 0", written.len());

    let faults: Vec<Fault> = Fault::ALL.into_iter().filter(|f| f.applies_to(strategy)).collect();
    let mut tally = vec![Tally::default(); faults.len()];
    let mut rng = Rng(u64::from(SIZE) ^ (guest as u64) << 8 ^ (strategy as u64) << 16);
    let mut rss_first = 0;
    let mut statics_changed = 0;
    let faulted = if strategy == Strategy::Recreate { FAULTED_PROOFS } else { FAULTED_OTHERS };
    for n in 0..faulted {
        let kind = n % faults.len();
        let fault = faults[kind];
        let point = 1 + rng.below(entries - 1) as i64;
        let (before, sp) = memory0(&mut r)?;
        let exact_before = if fork { Some(exact_state(&mut r)?) } else { None };
        if let (0, Some((bytes, globals))) = (n, &exact_before) {
            eprintln!("{guest} under fork: each faulted proof checked against memory 0 ({} bytes) and {} globals", bytes.len(), globals.len());
        }
        mode.store(fault.code(), Ordering::Relaxed);
        if fault == Fault::ReleaseFails {
            r.prover().fail_next_release();
        }
        let armed = if fault.code() == 0 { DISARMED } else { point };
        if fault == Fault::Memory1Exhausted {
            // Under fork nothing is routed: the guest allocates in its proof's own growth
            // of memory 0, so that is what the cap cuts short.
            let pages = if fork { memory0_pages + rng.below(memory0_proof_pages.saturating_sub(memory0_pages)) } else { rng.below(memory1_pages) };
            MEMORY_CAP.store(pages * multimem_transform::PAGE, Ordering::Relaxed);
        }
        let ended = prove(&mut r, 1 + n as u64, armed, Some(fault));
        mode.store(0, Ordering::Relaxed);
        MEMORY_CAP.store(u64::MAX, Ordering::Relaxed);
        let what = format!("{guest} under {strategy}, faulted proof {n} ({fault:?} at entry {point} of {entries})");
        let expected = fault.expected();
        match (&ended, fault) {
            (Ended::Proved { release_failed, .. }, Fault::ReleaseFails) => assert!(*release_failed, "{what}: the seam did not fire"),
            // In place memory 1 keeps the pages of earlier proofs: a cap below them never bites.
            (Ended::Proved { .. }, Fault::Memory1Exhausted) if strategy == Strategy::InPlace => {}
            (Ended::Failed(e) | Ended::Panicked(e), f) if f != Fault::ReleaseFails => {
                assert!(e.contains(expected), "{what}: ended with {e:?}, expected {expected:?}");
                tally[kind].failed += 1;
            }
            (ended, _) => panic!("{what}: {ended:?}"),
        }
        tally[kind].injected += 1;

        if let Some(exact_before) = &exact_before {
            assert_same_state(exact_before, &exact_state(&mut r)?, &what);
        }
        let (after, sp_after) = memory0(&mut r)?;
        assert_eq!(before.len(), after.len(), "{what}: memory 0 changed size");
        assert_eq!(sp, sp_after, "{what}: the stack pointer was not restored");
        let (statics, heap): (Vec<usize>, Vec<usize>) = changed_words(&before, &after, sp).into_iter().partition(|&w| w < heap_word);
        // A proof stopped part-way may leave its own statics mid-update (the last proof's
        // handle reset, say): the guest's state, counted. The heap must be as before.
        statics_changed += statics.len();
        let stray: Vec<usize> = heap.into_iter().filter(|w| !written.contains(w)).collect();
        assert!(stray.is_empty(), "{what}: {} words of memory 0's heap changed that no clean proof writes, first at {:#x}", stray.len(), stray[0] * 8);

        let bytes = match prove(&mut r, RECOVERY_SEED, DISARMED, None) {
            // A fresh ephemeral heap: the same span as the reference proof's, not stacked on a stale one.
            Ended::Proved { bytes, high_water, .. } if high_water == reference_high_water => bytes,
            ended => panic!("{what}: the next proof failed or did not start on a fresh memory 1: {ended:?}"),
        };
        // The reference proof verified: the same bytes verify.
        assert_eq!(bytes, reference, "{what}: the next proof differs from the one before any fault");
        if n == 0 {
            rss_first = rss_bytes();
        }
    }
    let rss_last = rss_bytes();
    let growth = rss_last as f64 / rss_first as f64;
    eprintln!("{guest} under {strategy}: RSS {:.1} MiB after the first faulted proof, {:.1} MiB after {faulted} ({growth:.3}x)", rss_first as f64 / 1048576.0, rss_last as f64 / 1048576.0);
    eprintln!("  memory 0: {statics_changed} words of statics left changed by faulted proofs in all; heap unchanged");
    for (fault, t) in faults.iter().zip(&tally) {
        eprintln!("  {fault:?}: injected {}, the proof failed {}", t.injected, t.failed);
    }
    assert!(growth <= 1.05, "{guest} under {strategy}: RSS grew {growth:.3}x over {faulted} faulted proofs");
    Ok(())
}

#[test]
fn groth16_faults_under_recreate() -> Result<()> {
    matrix(Guest::Groth16, Strategy::Recreate)
}

#[test]
fn halo2_faults_under_recreate() -> Result<()> {
    matrix(Guest::Halo2, Strategy::Recreate)
}

#[test]
fn groth16_faults_in_place() -> Result<()> {
    matrix(Guest::Groth16, Strategy::InPlace)
}

#[test]
fn halo2_faults_in_place() -> Result<()> {
    matrix(Guest::Halo2, Strategy::InPlace)
}

/// The view strategy on the guest with the SDK (a guest without it keeps its
/// proof-time allocations in memory 0 under a view, faults or not).
#[test]
fn groth16_faults_under_view() -> Result<()> {
    matrix(Guest::Groth16, Strategy::View)
}

/// Fork on the provers it is for: built without the SDK, nothing routed.
#[test]
fn groth16_without_sdk_faults_under_fork() -> Result<()> {
    matrix(Guest::Groth16NoSdk, Strategy::Fork)
}

#[test]
fn halo2_faults_under_fork() -> Result<()> {
    matrix(Guest::Halo2, Strategy::Fork)
}

/// Rounds of 2 to 4 fork proofs at once on one prover, one of them faulted at
/// a random point: the others verify and are their sequential proofs, memory
/// 0 and the globals are as before, and the next proof is the reference proof.
/// Not the memory cap: the limiter's cap is the process's, it would cut every
/// proof at once (and fork has no release of ours to fail).
fn one_faulted_among_several(guest: Guest) -> Result<()> {
    const FAULTS: [Fault; 6] = [Fault::GuestTraps, Fault::ImportPanics, Fault::Deadline, Fault::ImportErrs, Fault::ClosurePanics, Fault::ClosureErrs];
    const ROUNDS: u64 = 2 * FAULTS.len() as u64;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    quiet_injected_panics();
    let strategy = Strategy::Fork;
    let engine = multimem_runtime::engine_for(strategy)?;
    let mode = Arc::new(AtomicU8::new(0));
    let wasm = module_for(guest, strategy)?;
    // A deadline on every proof: the faulted proof's expiring must not reach the others'.
    let limits = Limits { deadline: Some(Duration::from_secs(60)), ..Limits::default() };
    let mut r = Reference::load_linked(&engine, guest, &wasm, &linker(&engine, mode.clone())?, strategy, limits)?;
    r.setup(SIZE)?;
    let Ended::Proved { bytes: reference, entries, .. } = prove(&mut r, RECOVERY_SEED, DISARMED, None) else {
        bail!("{guest} under fork: the clean proof failed")
    };
    // Each thread's seed and its proof made alone.
    let mut sequential = Vec::new();
    for seed in 1..=4 {
        let Ended::Proved { bytes, .. } = prove(&mut r, seed, DISARMED, None) else { bail!("{guest}: clean proof {seed} failed") };
        ensure!(r.verify(&bytes)?, "{guest}: the proof of seed {seed} does not verify");
        sequential.push(bytes);
    }
    ensure!(r.verify(&reference)?, "{guest}: the reference proof does not verify");

    let mut rng = Rng(0xF0 ^ (guest as u64) << 8);
    for round in 0..ROUNDS {
        let threads = 2 + (round % 3) as usize;
        let faulted = rng.below(threads as u64) as usize;
        let fault = FAULTS[round as usize % FAULTS.len()];
        let point = 1 + rng.below(entries - 1) as i64;
        let when = if fault.code() == 0 { "after `prove` returned".to_string() } else { format!("at entry {point} of {entries}") };
        let what = format!("{guest} under fork, round {round}: {threads} proofs at once, proof {faulted} faulted ({fault:?} {when})");
        let before = exact_state(&mut r)?;
        // Only the faulted proof's countdown reaches `fault.fire`: the mode is shared, the countdown per instance.
        mode.store(fault.code(), Ordering::Relaxed);
        let results: Vec<Ended> = {
            let proofs = r.prover().proofs()?;
            // Every proof's instance is live before any proves: the fault lands while the others run.
            let together = std::sync::Barrier::new(threads);
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        let (proofs, together) = (&proofs, &together);
                        let armed = if t == faulted && fault.code() != 0 { point } else { DISARMED };
                        let after = Some(fault).filter(|_| t == faulted);
                        scope.spawn(move || {
                            ended(catch_unwind(AssertUnwindSafe(|| {
                                proofs.prove(|p| {
                                    together.wait();
                                    proof(p, 1 + t as u64, armed, after)
                                })
                            })))
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().expect("the worker caught its proof's panic")).collect()
            })
        };
        mode.store(0, Ordering::Relaxed);
        for (t, ended) in results.iter().enumerate() {
            match ended {
                Ended::Failed(e) | Ended::Panicked(e) if t == faulted => {
                    let expected = fault.expected();
                    assert!(e.contains(expected), "{what}: the faulted proof ended with {e:?}, expected {expected:?}");
                }
                Ended::Proved { bytes, .. } if t != faulted => assert!(bytes == &sequential[t], "{what}: proof {t} differs from its sequential proof"),
                ended => panic!("{what}: proof {t} ended {ended:?}"),
            }
        }
        assert_same_state(&before, &exact_state(&mut r)?, &what);
        match prove(&mut r, RECOVERY_SEED, DISARMED, None) {
            Ended::Proved { bytes, .. } => assert!(bytes == reference, "{what}: the next proof differs from the reference"),
            ended => panic!("{what}: the next proof: {ended:?}"),
        }
        eprintln!("{what}: held");
    }
    Ok(())
}

#[test]
fn groth16_without_sdk_one_faulted_among_proofs_at_once() -> Result<()> {
    one_faulted_among_several(Guest::Groth16NoSdk)
}

#[test]
fn halo2_one_faulted_among_proofs_at_once() -> Result<()> {
    one_faulted_among_several(Guest::Halo2)
}
