//! Routing on a small module with an allocator of its own (a first-fit free
//! list over a bump pointer in memory 0, C's malloc/free/realloc), and a
//! model-checked program of allocations across proof boundaries, shared by
//! `tests/tests/route.rs` and the `route` fuzz target.

use anyhow::{ensure, Context, Result};
use multimem_runtime::{Limits, Prover, Strategy};
use wasmtime::{Engine, Linker, Val};

/// The fixture: `malloc`/`free`/`realloc` (the allocator routing finds),
/// `fill`/`sum` over a buffer, and a static "cache" slot at 1024.
pub const FIXTURE: &str = r#"(module
  (memory (export "memory") 4)
  ;; Data first, then the heap, the stack below 0x30000.
  (data (i32.const 1024) "\00\00\00\00")
  (global $__stack_pointer (mut i32) (i32.const 0x30000))
  (global $brk (mut i32) (i32.const 70000))
  (global $free_list (mut i32) (i32.const 0))
  ;; A block: size at p-8, next free block at p-4 while free.
  (func $malloc (export "malloc") (param $n i32) (result i32) (local $p i32) (local $prev i32) (local $end i32)
    (local.set $n (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8)))
    (local.set $p (global.get $free_list))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (local.get $p)))
        (if (i32.ge_u (i32.load (i32.sub (local.get $p) (i32.const 8))) (local.get $n))
          (then
            (if (local.get $prev)
              (then (i32.store (i32.sub (local.get $prev) (i32.const 4)) (i32.load (i32.sub (local.get $p) (i32.const 4)))))
              (else (global.set $free_list (i32.load (i32.sub (local.get $p) (i32.const 4))))))
            (return (local.get $p))))
        (local.set $prev (local.get $p))
        (local.set $p (i32.load (i32.sub (local.get $p) (i32.const 4))))
        (br $scan)))
    (local.set $p (i32.add (global.get $brk) (i32.const 8)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16))) (i32.const 16)) (i32.const 1))) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $brk (local.get $end))
    (i32.store (i32.sub (local.get $p) (i32.const 8)) (local.get $n))
    (local.get $p))
  (func $free (export "free") (param $p i32)
    (if (i32.eqz (local.get $p)) (then (return)))
    (i32.store (i32.sub (local.get $p) (i32.const 4)) (global.get $free_list))
    (global.set $free_list (local.get $p)))
  (func $realloc (export "realloc") (param $p i32) (param $n i32) (result i32) (local $q i32)
    (if (i32.eqz (local.get $p)) (then (return (call $malloc (local.get $n)))))
    (if (i32.ge_u (i32.load (i32.sub (local.get $p) (i32.const 8))) (local.get $n)) (then (return (local.get $p))))
    (local.set $q (call $malloc (local.get $n)))
    (if (i32.eqz (local.get $q)) (then (return (i32.const 0))))
    (memory.copy (local.get $q) (local.get $p) (i32.load (i32.sub (local.get $p) (i32.const 8))))
    (call $free (local.get $p))
    (local.get $q))
  (func $free_blocks (export "free_blocks") (result i32) (local $p i32) (local $n i32)
    (local.set $p (global.get $free_list))
    (block $done
      (loop $walk
        (br_if $done (i32.eqz (local.get $p)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $p (i32.load (i32.sub (local.get $p) (i32.const 4))))
        (br $walk)))
    (local.get $n))
  (func $fill (export "fill") (param $p i32) (param $n i32) (param $byte i32)
    (memory.fill (local.get $p) (local.get $byte) (local.get $n)))
  (func $sum (export "sum") (param $p i32) (param $n i32) (result i32) (local $s i32)
    (block $done
      (loop $add
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (br $add)))
    (local.get $s))
  (func $keep (export "keep") (param $p i32) (i32.store (i32.const 1024) (local.get $p)))
  (func $kept (export "kept") (result i32) (i32.load (i32.const 1024)))
  (func $read_kept (export "read_kept") (result i32) (i32.load (i32.load (i32.const 1024))))
  ;; Keeps a pointer in its own stack frame: not an escape.
  (func $on_stack (export "on_stack") (param $p i32) (result i32) (local $frame i32)
    (local.set $frame (i32.sub (global.get $__stack_pointer) (i32.const 16)))
    (global.set $__stack_pointer (local.get $frame))
    (i32.store offset=4 (local.get $frame) (local.get $p))
    (global.set $__stack_pointer (i32.add (local.get $frame) (i32.const 16)))
    (i32.load offset=4 (local.get $frame)))
)"#;

/// The fixture as wasm.
pub fn fixture() -> Vec<u8> {
    wat::parse_str(FIXTURE).expect("the fixture assembles")
}

/// The fixture transformed with routing (and the escape check when asked).
pub fn routed(check_escapes: bool) -> Result<Vec<u8>> {
    let options = multimem_transform::Options { route: multimem_transform::Route::On, check_escapes, ..Default::default() };
    multimem_transform::transform(&fixture(), &options)
}

/// A prover over `wasm` (transformed, or the original under the baseline).
pub fn load(engine: &Engine, wasm: &[u8], strategy: Strategy) -> Result<Prover<()>> {
    Prover::load(engine, &Linker::new(engine), wasm, strategy, Limits::default())
}

pub fn call(s: &mut multimem_runtime::Session<'_, ()>, name: &str, args: &[i32]) -> Result<i32> {
    let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    Ok(s.call(name, &args)?.first().map_or(0, |v| v.unwrap_i32()))
}

/// One step of a program of allocations.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `slot = malloc(size)` filled with a byte of its own.
    Alloc { slot: u8, size: u16 },
    /// `free(slot)`.
    Free { slot: u8 },
    /// `slot = realloc(slot, size)`.
    Realloc { slot: u8, size: u16 },
    /// Checks slot's contents.
    Check { slot: u8 },
    /// Ends the current proof (or the setup phase) and starts the next one.
    Boundary,
}

impl<'a> arbitrary::Arbitrary<'a> for Op {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let slot = u.int_in_range(0..=SLOTS as u8 - 1)?;
        let size = match u.int_in_range(0..=3)? {
            0 => u.int_in_range(0..=16)?,
            1 | 2 => u.int_in_range(0..=512)?,
            _ => u.int_in_range(0..=40_000)?,
        };
        Ok(match u.int_in_range(0..=9)? {
            0..=2 => Op::Alloc { slot, size },
            3..=4 => Op::Free { slot },
            5..=6 => Op::Realloc { slot, size },
            7..=8 => Op::Check { slot },
            _ => Op::Boundary,
        })
    }
}

pub const SLOTS: usize = 8;

/// What the model knows of a slot.
#[derive(Clone, Copy, Debug)]
struct Slot {
    ptr: u32,
    size: u32,
    byte: u8,
    /// Allocated during the proof that is running (tagged), so gone after it.
    ephemeral: bool,
}

/// Runs `ops` on the routed fixture under `strategy` and checks every result
/// against the model: setup-time objects stay in memory 0 (and keep their
/// memory when reallocated in a proof), proof-time ones are tagged and keep
/// their contents through realloc; freeing a stale pointer after its proof
/// is ignored; memory 0 does not grow after the setup phase.
pub fn run_program(engine: &Engine, routed: &[u8], strategy: Strategy, ops: &[Op]) -> Result<()> {
    let split = multimem_transform::DEFAULT_SPLIT;
    let mut prover = load(engine, routed, strategy)?;
    let mut slots: [Option<Slot>; SLOTS] = [None; SLOTS];
    let mut phases = ops.split(|op| matches!(op, Op::Boundary));
    let setup = phases.next().unwrap_or_default();
    let mut counter = 0u8;
    prover.run(|s| execute(s, setup, &mut slots, false, &mut counter))?;
    for phase in phases {
        // A setup-time object reallocated in a proof stays in memory 0, which may grow for it.
        let grows_persistent = phase.iter().any(|op| matches!(op, Op::Realloc { slot, .. } if slots[*slot as usize].is_some_and(|s| !s.ephemeral)));
        let memory0 = if grows_persistent { u64::MAX } else { prover.memory0_pages() };
        let (result, _) = prover.prove(|s| execute(s, phase, &mut slots, true, &mut counter));
        result?;
        // The proof's objects are gone with its memory 1; freeing them now is ignored.
        let stale: Vec<u32> = slots.iter_mut().filter_map(|s| s.take_if(|s| s.ephemeral)).map(|s| s.ptr).collect();
        prover.run(|s| {
            for ptr in stale {
                ensure!(ptr >= split, "an ephemeral object at {ptr:#x}");
                call(s, "free", &[ptr as i32])?;
                ensure!(call(s, "realloc", &[ptr as i32, 8])? == 0, "realloc of a stale pointer must fail");
            }
            Ok(())
        })?;
        ensure!(memory0 == u64::MAX || prover.memory0_pages() == memory0, "memory 0 grew during a proof: {} -> {} pages", memory0, prover.memory0_pages());
    }
    Ok(())
}

fn execute(s: &mut multimem_runtime::Session<'_, ()>, ops: &[Op], slots: &mut [Option<Slot>; SLOTS], proof: bool, counter: &mut u8) -> Result<()> {
    let split = multimem_transform::DEFAULT_SPLIT;
    for op in ops {
        match *op {
            Op::Alloc { slot, size } => {
                if let Some(old) = slots[slot as usize].take() {
                    call(s, "free", &[old.ptr as i32])?;
                }
                let ptr = call(s, "malloc", &[size as i32])? as u32;
                ensure!(ptr != 0, "malloc({size}) failed");
                ensure!((ptr >= split) == proof, "malloc({size}) gave {ptr:#x} with a proof {}", if proof { "active" } else { "inactive" });
                *counter = counter.wrapping_add(1).max(1);
                call(s, "fill", &[ptr as i32, size as i32, *counter as i32])?;
                slots[slot as usize] = Some(Slot { ptr, size: size as u32, byte: *counter, ephemeral: proof });
            }
            Op::Free { slot } => {
                if let Some(old) = slots[slot as usize].take() {
                    check(s, &old)?;
                    call(s, "free", &[old.ptr as i32])?;
                }
            }
            Op::Realloc { slot, size } => {
                let Some(old) = slots[slot as usize].take() else { continue };
                let ptr = call(s, "realloc", &[old.ptr as i32, size as i32])? as u32;
                ensure!(ptr != 0, "realloc to {size} failed");
                ensure!((ptr >= split) == (old.ptr >= split), "realloc moved {:#x} to the other memory ({ptr:#x})", old.ptr);
                let kept = Slot { ptr, size: old.size.min(size as u32), ..old };
                check(s, &kept).context("realloc lost contents")?;
                call(s, "fill", &[ptr as i32, size as i32, old.byte as i32])?;
                slots[slot as usize] = Some(Slot { ptr, size: size as u32, ..old });
            }
            Op::Check { slot } => {
                if let Some(slot) = &slots[slot as usize] {
                    check(s, slot)?;
                }
            }
            Op::Boundary => unreachable!("phases are split at boundaries"),
        }
    }
    Ok(())
}

fn check(s: &mut multimem_runtime::Session<'_, ()>, slot: &Slot) -> Result<()> {
    let sum = call(s, "sum", &[slot.ptr as i32, slot.size as i32])? as u32;
    ensure!(sum == slot.size * slot.byte as u32, "contents of {:#x} changed", slot.ptr);
    Ok(())
}
