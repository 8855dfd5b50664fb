//! Programs that pass pointers between functions, stack frames, loops and
//! memory, checked against a one-memory model.
//!
//! With split [`SPLIT`], the original module's memory holds two pages: the
//! first plays memory 0, the second memory 1. The transformed module (whose
//! input declares one page) gets memory 1 grown by one page and the same
//! bytes, so every call must return the same and leave the same bytes in
//! each half, whichever memory its pointers point into. Leaf functions do
//! enough through their pointer parameters to be versioned, callers mix
//! stack frames with pointers of either memory, and pointers also round-trip
//! through memory (unknown provenance).

use std::fmt::Write;

use anyhow::{Context, Result};
pub use wasmtime::Engine;
use wasmtime::{Instance, Memory, Module, Store, Trap, Val};

/// The split of the transformed modules: one page of memory 0.
pub const SPLIT: u32 = 0x1_0000;
const PAGE: usize = 0x1_0000;
/// Objects the programs touch are this long (offsets, loops and the pointer slot fit).
const OBJECT: u32 = 0x200;
/// Byte offset of the slot through which pointers round-trip.
const SLOT: u32 = 0x100;

/// One generated program, its memory declared in two ways.
pub struct Program {
    body: String,
    /// Export names with their arguments, in call order.
    pub calls: Vec<(String, Vec<i32>)>,
    pub leaves: usize,
}

impl Program {
    /// The module as the one-memory model runs it: both halves in one memory.
    pub fn original(&self) -> String {
        self.body.replace("MEMORY", "(memory (export \"memory\") 2)")
    }

    /// The module to transform: memory 0 ends at the split.
    pub fn transform_input(&self) -> String {
        self.body.replace("MEMORY", "(memory (export \"memory\") 1)")
    }
}

/// splitmix64: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

pub fn generate(seed: u64) -> Program {
    let mut rng = Rng(seed);
    let leaves = 2 + rng.below(3) as usize;
    let mut body = String::from("(module\n  MEMORY\n  (global $__stack_pointer (mut i32) (i32.const 0x8000))\n");
    for k in 0..leaves {
        body.push_str(&leaf(&mut rng, k));
    }
    body.push_str(&framed(&mut rng, leaves));
    for k in 0..leaves {
        writeln!(body, "  (func (export \"run{k}\") (param i32 i32 i32) (result i64) (call $leaf{k} (local.get 0) (local.get 1) (local.get 2)))").unwrap();
    }
    body.push_str(")\n");

    let mut calls = Vec::new();
    for _ in 0..8 {
        let k = rng.below(leaves as u64 + 1) as usize;
        let (a, b, n) = (pointer(&mut rng), pointer(&mut rng), rng.below(9) as i32);
        if k == leaves {
            calls.push(("framed".to_owned(), vec![a]));
        } else {
            calls.push((format!("run{k}"), vec![a, b, n]));
        }
    }
    Program { body, calls, leaves }
}

/// An object's address in either memory, clear of the stack (0x4000..0x8000).
fn pointer(rng: &mut Rng) -> i32 {
    let slot = rng.below(0x30) as u32 * OBJECT;
    (if rng.below(2) == 0 { 0x1000 + slot } else { SPLIT + slot }) as i32
}

/// `$leafK (a, b, n) -> i64`: accesses through `a`, `b` and `p` (a pointer
/// moved along one of them or loaded back from memory), a loop, branches and
/// calls to lower leaves with the pointers swapped.
fn leaf(rng: &mut Rng, k: usize) -> String {
    let mut f = format!("  (func $leaf{k} (param $a i32) (param $b i32) (param $n i32) (result i64) (local $acc i64) (local $p i32) (local $i i32)\n");
    f.push_str("    (local.set $p (local.get $a))\n");
    for _ in 0..6 + rng.below(10) {
        f.push_str("    ");
        f.push_str(&statement(rng, k, 0));
        f.push('\n');
    }
    f.push_str("    (local.get $acc))\n");
    f
}

fn statement(rng: &mut Rng, k: usize, depth: u32) -> String {
    let ptr = rng.pick(&["$a", "$b", "$p"]);
    let off = rng.below(8) * 8;
    let c = rng.below(1000);
    match rng.below(if depth > 0 { 7 } else { 12 }) {
        0 => format!("(i64.store offset={off} (local.get {ptr}) (i64.add (local.get $acc) (i64.const {c})))"),
        1 => format!("(local.set $acc (i64.add (local.get $acc) (i64.load offset={off} (local.get {ptr}))))"),
        2 => format!("(i32.store8 offset={off} (local.get {ptr}) (i32.wrap_i64 (local.get $acc)))"),
        3 => format!("(local.set $acc (i64.xor (local.get $acc) (i64.load16_u offset={off} (local.get {ptr}))))"),
        4 => {
            let base = rng.pick(&["$a", "$b"]);
            format!("(local.set $p (i32.add (local.get {base}) (i32.const {off})))")
        }
        5 => {
            // The pointer round-trips through memory: its provenance is unknown.
            let (from, to) = (rng.pick(&["$a", "$b"]), rng.pick(&["$a", "$b"]));
            format!("(i32.store offset={SLOT} (local.get {to}) (local.get {from})) (local.set $p (i32.load offset={SLOT} (local.get {to})))")
        }
        6 => format!(
            "(if (i64.eqz (i64.and (local.get $acc) (i64.const 1))) (then {}) (else {}))",
            statement(rng, k, depth + 1),
            statement(rng, k, depth + 1)
        ),
        7 => "(local.set $p (local.get $a)) (block $done (loop $next (br_if $done (i32.eqz (local.get $n))) \
              (i64.store (local.get $p) (i64.add (i64.load (local.get $p)) (local.get $acc))) \
              (local.set $p (i32.add (local.get $p) (i32.const 8))) \
              (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $next)))"
            .to_owned(),
        8 => {
            // A base of unknown provenance walked by a cursor: versioned at the loop's entry.
            let (from, to) = (rng.pick(&["$a", "$b"]), rng.pick(&["$a", "$b"]));
            format!(
                "(i32.store offset={SLOT} (local.get {to}) (local.get {from})) (local.set $p (i32.load offset={SLOT} (local.get {to}))) \
                 (local.set $i (i32.const 0)) (block $done (loop $next (br_if $done (i32.ge_u (local.get $i) (local.get $n))) \
                 (local.set $acc (i64.add (local.get $acc) (i64.load offset=8 (i32.add (local.get $p) (local.get $i))))) \
                 (i64.store offset=16 (i32.add (local.get $p) (local.get $i)) (local.get $acc)) \
                 (i32.store8 offset=24 (i32.add (local.get $i) (local.get $p)) (i32.wrap_i64 (local.get $acc))) \
                 (local.set $acc (i64.add (local.get $acc) (i64.load16_u offset={off} (local.get $p)))) \
                 (local.set $i (i32.add (local.get $i) (i32.const 8))) (br $next)))"
            )
        }
        9 => {
            // The address is pushed before a block that moves the pointer to the other argument.
            let (to, other) = if rng.below(2) == 0 { ("$a", "$b") } else { ("$b", "$a") };
            format!(
                "(local.set $p (local.get {to})) (i64.store offset={off} (local.get $p) \
                 (block (result i64) (local.set $p (local.get {other})) (i64.const {c})))"
            )
        }
        10 => format!(
            // The loop moves the pointer to the other argument: its tag is not the loop's entry tag.
            "(local.set $p (local.get $a)) (local.set $i (i32.const 2)) (block $done (loop $next \
             (local.set $acc (i64.add (local.get $acc) (i64.load offset={off} (local.get $p)))) \
             (i64.store offset=8 (local.get $p) (local.get $acc)) (i64.store offset=16 (local.get $p) (local.get $acc)) \
             (i32.store8 offset=24 (local.get $p) (i32.wrap_i64 (local.get $acc))) \
             (local.set $p (local.get $b)) (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $next (local.get $i))))"
        ),
        _ if k > 0 => {
            let callee = rng.below(k as u64);
            format!("(local.set $acc (i64.add (local.get $acc) (call $leaf{callee} (local.get $b) (local.get {ptr}) (i32.const 2))))")
        }
        _ => format!("(i64.store offset={off} (local.get $b) (i64.load offset={off} (local.get $a)))"),
    }
}

/// `$framed (a) -> i64`: a stack frame whose address goes to a leaf with `a`.
fn framed(rng: &mut Rng, leaves: usize) -> String {
    let callee = rng.below(leaves as u64);
    let swap = rng.below(2) == 0;
    let (x, y) = if swap { ("(local.get $a)", "(local.get $f)") } else { ("(local.get $f)", "(local.get $a)") };
    format!(
        "  (func $framed (export \"framed\") (param $a i32) (result i64) (local $f i32) (local $r i64)\n    \
         (global.set $__stack_pointer (local.tee $f (i32.sub (global.get $__stack_pointer) (i32.const {OBJECT}))))\n    \
         (i64.store offset=8 (local.get $f) (i64.load (local.get $a)))\n    \
         (i32.store offset={SLOT} (local.get $f) (local.get $a))\n    \
         (local.set $r (call $leaf{callee} {x} {y} (i32.const 3)))\n    \
         (local.set $r (i64.add (local.get $r) (i64.load offset=8 (local.get $f))))\n    \
         (global.set $__stack_pointer (i32.add (local.get $f) (i32.const {OBJECT})))\n    \
         (local.get $r))\n"
    )
}

/// What a run left: each call's result or trap, and the bytes of both halves.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub calls: Vec<String>,
    pub memory0: Vec<u8>,
    pub memory1: Vec<u8>,
}

/// Runs `wasm` with both halves filled from `fill`: one memory of two pages
/// (`transformed == false`) or memories 0 and 1 of one page each.
pub fn run(engine: &Engine, wasm: &[u8], transformed: bool, program: &Program, fill: u64) -> Result<Outcome> {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &Module::new(engine, wasm)?, &[])?;
    let mut rng = Rng(fill);
    let bytes: Vec<u8> = (0..2 * PAGE).map(|_| rng.next() as u8).collect();
    let memory = |store: &mut Store<()>, name| instance.get_memory(store, name).with_context(|| format!("no memory {name}"));
    let halves: [(Memory, usize); 2] = if transformed {
        let m1 = memory(&mut store, "multimem.ephemeral_memory")?;
        m1.grow(&mut store, 1)?;
        [(memory(&mut store, "multimem.persistent_memory")?, 0), (m1, 0)]
    } else {
        let m = memory(&mut store, "memory")?;
        [(m, 0), (m, PAGE)]
    };
    for (i, (m, at)) in halves.iter().enumerate() {
        m.write(&mut store, *at, &bytes[i * PAGE..(i + 1) * PAGE])?;
    }
    // The stack starts at 0x8000 in both.
    let stack = 0x8000 - OBJECT as usize * 8;
    halves[0].0.data_mut(&mut store)[stack..0x8000].fill(0);

    let mut calls = Vec::new();
    for (name, args) in &program.calls {
        let func = instance.get_func(&mut store, name).with_context(|| format!("no export {name}"))?;
        let args: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
        let mut result = [Val::I64(0)];
        calls.push(match func.call(&mut store, &args, &mut result) {
            Ok(()) => format!("{name}: {}", result[0].unwrap_i64()),
            Err(e) => format!("{name}: trap {:?}", e.downcast_ref::<Trap>()),
        });
    }
    let half = |store: &Store<()>, (m, at): (Memory, usize)| m.data(store)[at..at + PAGE].to_vec();
    Ok(Outcome { calls, memory0: half(&store, halves[0]), memory1: half(&store, halves[1]) })
}

/// Generates the program for `seed`, transforms it with split [`SPLIT`] and
/// compares both runs. `Ok` gives what the transform did (how much was
/// versioned); `Err` describes a difference (or a failure to transform or run).
pub fn check(engine: &Engine, seed: u64) -> Result<multimem_transform::DispatchStats, String> {
    let program = generate(seed);
    let parse = |text: String| wat::parse_str(text).map_err(|e| format!("generated text does not parse: {e}"));
    let (original, input) = (parse(program.original())?, parse(program.transform_input())?);
    let options = multimem_transform::Options { split: SPLIT, ..Default::default() };
    let (transformed, report) = multimem_transform::transform_with_report(&input, &options).map_err(|e| format!("transform: {e:#}"))?;
    let expected = run(engine, &original, false, &program, seed).map_err(|e| format!("original: {e:#}"))?;
    let actual = run(engine, &transformed, true, &program, seed).map_err(|e| format!("transformed: {e:#}"))?;
    if expected.calls != actual.calls {
        return Err(format!("seed {seed}: results differ\nmodel       {:?}\ntransformed {:?}\n{}", expected.calls, actual.calls, program.original()));
    }
    for (half, (a, b)) in [("memory 0", (&expected.memory0, &actual.memory0)), ("memory 1", (&expected.memory1, &actual.memory1))] {
        if let Some(at) = a.iter().zip(b.iter()).position(|(x, y)| x != y) {
            return Err(format!("seed {seed}: {half} differs first at {at:#x}\n{}", program.original()));
        }
    }
    Ok(report.rewritten)
}
