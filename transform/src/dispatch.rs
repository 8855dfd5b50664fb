//! Step 3: rewrite every memory-0 access to dispatch on the pointer tag.
//!
//! An access whose address `p` is `>= split` goes to memory 1 at `p - split`,
//! any other to memory 0 at `p`. The static offset of the instruction is kept
//! on both sides: the tag is a property of the base pointer. Accesses whose
//! tag is known need no run-time test: persistent addresses (see
//! [`crate::provenance`]) and, in the copies [`crate::version`] makes, those
//! whose tag the copy fixes; so does a load from a constant address.

use rustc_hash::FxHashSet;

use anyhow::Result;
use rayon::prelude::*;
use walrus::ir::*;
use walrus::{ConstExpr, GlobalId, LocalFunction, LocalId, Module, ValType};

use crate::instrs::{instr_seqs, retarget};
use crate::provenance::{self, Accesses, Known, Origin};
use crate::version::{self, Plan};
use crate::Layout;

/// Where a store keeps its value while the tag is tested.
///
/// Both arms of the dispatch read the value. Kept in a local, Cranelift may sink
/// the computation of the value into each arm and recompute it (measured
/// 3.7x on the reference prover); parked in a global, the value is computed once
/// (1.27x). The anchor global is never shared: each thread of a threaded module
/// runs its own instance with its own globals, and nothing runs between the set
/// and the get, so `Global` is right for shared memories too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreAnchor {
    Local,
    Global,
}

/// How many memory-0 instructions each kind of rewrite handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DispatchStats {
    pub loads: u64,
    pub stores: u64,
    pub simd: u64,
    pub atomics: u64,
    pub copies: u64,
    pub fills: u64,
    pub inits: u64,
    /// Loads from a constant address at or above the split, resolved without dispatch.
    pub constant_address: u64,
    /// Accesses whose address is provably in memory 0 (stack, statics), left as they were.
    pub persistent_address: u64,
    /// Accesses in the copies of versioned functions and loops that go straight
    /// to the memory their copy's tags say (counted once per copy).
    pub versioned: u64,
    /// Functions with one body per combination of their pointer parameters' tags.
    pub versioned_functions: u64,
    /// Places where a loop has one copy per combination of its base pointers' tags.
    pub versioned_loops: u64,
    /// Accesses aimed at memory 1 with no dispatch (view form).
    pub retargeted: u64,
}

impl DispatchStats {
    pub(crate) fn add(mut self, o: DispatchStats) -> DispatchStats {
        self.loads += o.loads;
        self.stores += o.stores;
        self.simd += o.simd;
        self.atomics += o.atomics;
        self.copies += o.copies;
        self.fills += o.fills;
        self.inits += o.inits;
        self.constant_address += o.constant_address;
        self.persistent_address += o.persistent_address;
        self.versioned += o.versioned;
        self.versioned_functions += o.versioned_functions;
        self.versioned_loops += o.versioned_loops;
        self.retargeted += o.retargeted;
        self
    }

    /// Instructions that now dispatch at run time.
    pub fn dispatched(&self) -> u64 {
        self.loads + self.stores + self.simd + self.atomics + self.copies + self.fills + self.inits
    }
}

pub fn run(module: &mut Module, layout: &Layout, anchor: StoreAnchor, options: &crate::Options) -> Result<DispatchStats> {
    let known = provenance::run(module, layout.split);
    let plans = if options.version { version::plan(module, &known) } else { Default::default() };
    let scratch = Scratch::new(module, anchor);
    let counters = options.count_accesses.then(|| Counters::new(module));
    let rewriter = Rewriter { layout: *layout, scratch, counters };
    let stats = module
        .funcs
        .par_iter_local_mut()
        .map(|(id, func)| rewriter.function(func, &known[&id], plans.get(&id)))
        .reduce(DispatchStats::default, DispatchStats::add);
    Ok(stats)
}

/// Locals (module-wide ids; walrus declares them in each function that uses
/// them) and optional globals that hold operands while the tag is tested.
struct Scratch {
    i32s: [LocalId; 4],
    i64s: [LocalId; 2],
    f32: LocalId,
    f64: LocalId,
    v128: LocalId,
    anchors: Option<Anchors>,
}

struct Anchors {
    i32: GlobalId,
    i64: GlobalId,
    f32: GlobalId,
    f64: GlobalId,
    v128: GlobalId,
}

impl Scratch {
    fn new(module: &mut Module, anchor: StoreAnchor) -> Scratch {
        let mut local = |ty| module.locals.add(ty);
        let i32s = [local(ValType::I32), local(ValType::I32), local(ValType::I32), local(ValType::I32)];
        let i64s = [local(ValType::I64), local(ValType::I64)];
        let (f32, f64, v128) = (local(ValType::F32), local(ValType::F64), local(ValType::V128));
        let anchors = (anchor == StoreAnchor::Global).then(|| {
            let mut global = |ty, zero, name: &str| {
                let id = module.globals.add_local(ty, true, false, ConstExpr::Value(zero));
                module.globals.get_mut(id).name = Some(format!("multimem_anchor_{name}"));
                id
            };
            Anchors {
                i32: global(ValType::I32, Value::I32(0), "i32"),
                i64: global(ValType::I64, Value::I64(0), "i64"),
                f32: global(ValType::F32, Value::F32(0.0), "f32"),
                f64: global(ValType::F64, Value::F64(0.0), "f64"),
                v128: global(ValType::V128, Value::V128(0), "v128"),
            }
        });
        Scratch { i32s, i64s, f32, f64, v128, anchors }
    }

    fn address(&self) -> LocalId {
        self.i32s[0]
    }

    /// The local for the `nth` operand of type `ty` after the address.
    fn operand(&self, ty: ValType, nth: usize) -> LocalId {
        match ty {
            ValType::I32 => self.i32s[1 + nth],
            ValType::I64 => self.i64s[nth],
            ValType::F32 => self.f32,
            ValType::F64 => self.f64,
            ValType::V128 => self.v128,
            ValType::Ref(_) => unreachable!("memory instructions take no reference operands"),
        }
    }

    fn anchor(&self, ty: ValType) -> Option<GlobalId> {
        let a = self.anchors.as_ref()?;
        Some(match ty {
            ValType::I32 => a.i32,
            ValType::I64 => a.i64,
            ValType::F32 => a.f32,
            ValType::F64 => a.f64,
            ValType::V128 => a.v128,
            ValType::Ref(_) => return None,
        })
    }
}

/// Where an operand waits while the tag is tested.
#[derive(Clone, Copy)]
enum Slot {
    Local(LocalId),
    Global(GlobalId),
}

impl Slot {
    fn set(self) -> Instr {
        match self {
            Slot::Local(local) => LocalSet { local }.into(),
            Slot::Global(global) => GlobalSet { global }.into(),
        }
    }
    fn get(self) -> Instr {
        match self {
            Slot::Local(local) => LocalGet { local }.into(),
            Slot::Global(global) => GlobalGet { global }.into(),
        }
    }
}

/// The stack shape of a memory-0 instruction, besides its address.
enum Shape {
    /// `[addr, operands..] -> [result?]`; `stored` marks a store's value.
    Access { operands: Operands, result: Option<ValType>, stored: bool },
    /// `memory.copy`: `[dst, src, len] -> []`, either side may be tagged.
    Copy,
}

struct Rewriter {
    layout: Layout,
    scratch: Scratch,
    counters: Option<Counters>,
}

/// Exported i64 globals counting executed memory-0 accesses, for measuring
/// how much still dispatches (they cost time: not for shipping).
struct Counters {
    dispatched: GlobalId,
    direct: GlobalId,
}

impl Counters {
    fn new(module: &mut Module) -> Counters {
        let mut counter = |name: &str| {
            let id = module.globals.add_local(ValType::I64, true, false, ConstExpr::Value(Value::I64(0)));
            module.globals.get_mut(id).name = Some(format!("multimem_count_{name}"));
            module.exports.add(&format!("{COUNT_EXPORT_PREFIX}{name}"), id);
            id
        };
        Counters { dispatched: counter("dispatched"), direct: counter("direct") }
    }
}

/// Exports of the counters [`crate::Options::count_accesses`] adds: `dispatched` and `direct`.
pub const COUNT_EXPORT_PREFIX: &str = "multimem.count.";

impl Rewriter {
    fn function(&self, func: &mut LocalFunction, known: &Accesses, plan: Option<&Plan>) -> DispatchStats {
        let mut stats = DispatchStats::default();
        let applied = plan.map(|plan| version::apply(func, plan, self.layout.split)).unwrap_or_default();
        stats.versioned_functions = u64::from(plan.is_some_and(|p| !p.params.is_empty()));
        stats.versioned_loops = applied.loops;
        for seq in instr_seqs(func) {
            let copy = applied.copies.get(&seq);
            let original = copy.map_or(seq, |c| c.original);
            let old = std::mem::take(&mut func.block_mut(seq).instrs);
            let targets: Vec<Option<(Target, Known)>> = old
                .iter()
                .enumerate()
                .map(|(i, (instr, _))| {
                    let known = *known.get(&(original, i)).filter(|_| self.touches_memory0(instr))?;
                    Some((target(&known, copy)?, known))
                })
                .collect();
            // In a copy where the address is tagged, untag it where it is computed.
            let untag_after: FxHashSet<usize> =
                targets.iter().flatten().filter(|(t, _)| *t == Target::Ephemeral).map(|(_, known)| known.address).collect();
            let mut new = Vec::with_capacity(old.len());
            for (i, (instr, loc)) in old.into_iter().enumerate() {
                match targets[i] {
                    Some((target, known)) => {
                        match known.origin {
                            Origin::Persistent => stats.persistent_address += 1,
                            _ => stats.versioned += 1,
                        }
                        self.count(&mut new, loc, false);
                        let memory = if target == Target::Ephemeral { self.layout.ephemeral } else { self.layout.persistent };
                        new.push((retarget(&instr, memory), loc));
                    }
                    None => self.instr(func, &mut new, instr, loc, &mut stats),
                }
                if untag_after.contains(&i) {
                    self.push_untag(&mut new, loc);
                }
            }
            func.block_mut(seq).instrs = new;
        }
        stats
    }

    fn instr(&self, func: &mut LocalFunction, out: &mut Vec<(Instr, InstrLocId)>, instr: Instr, loc: InstrLocId, stats: &mut DispatchStats) {
        let Some(shape) = self.shape(&instr, stats) else {
            out.push((instr, loc));
            return;
        };
        if self.counters.is_some() {
            // Counted before the address, so that a constant one is still seen as such.
            let constant = matches!(&shape, Shape::Access { operands, .. } if operands.len == 0) && matches!(out.last(), Some((Instr::Const(_), _)));
            let address = if constant { out.pop() } else { None };
            self.count(out, loc, !constant);
            out.extend(address);
        }
        match shape {
            Shape::Copy => self.copy(func, out, loc),
            Shape::Access { operands, result, stored } => {
                if operands.len == 0 && self.constant_address(out, &instr, loc, stats) {
                    return;
                }
                self.access(func, out, &instr, loc, operands.as_slice(), result, stored)
            }
        }
    }

    fn touches_memory0(&self, instr: &Instr) -> bool {
        self.shape(instr, &mut DispatchStats::default()).is_some()
    }

    /// Adds one to a counter, if counting; leaves the operand stack as it was.
    fn count(&self, out: &mut Vec<(Instr, InstrLocId)>, loc: InstrLocId, dispatched: bool) {
        let Some(c) = &self.counters else { return };
        let global = if dispatched { c.dispatched } else { c.direct };
        out.push((GlobalGet { global }.into(), loc));
        out.push((Const { value: Value::I64(1) }.into(), loc));
        out.push((Binop { op: BinaryOp::I64Add }.into(), loc));
        out.push((GlobalSet { global }.into(), loc));
    }

    /// Classifies `instr` if it touches memory 0 and counts it.
    fn shape(&self, instr: &Instr, stats: &mut DispatchStats) -> Option<Shape> {
        let m0 = self.layout.persistent;
        use ValType::*;
        let access = |operands: &[ValType], result, stored| Some(Shape::Access { operands: Operands::new(operands), result, stored });
        match instr {
            Instr::Load(l) if l.memory == m0 => {
                stats.loads += 1;
                access(&[], Some(load_type(&l.kind)), false)
            }
            Instr::Store(s) if s.memory == m0 => {
                stats.stores += 1;
                access(&[store_type(&s.kind)], None, true)
            }
            Instr::LoadSimd(l) if l.memory == m0 => {
                stats.simd += 1;
                use LoadSimdKind::*;
                match l.kind {
                    V128Load8Lane(_) | V128Load16Lane(_) | V128Load32Lane(_) | V128Load64Lane(_) => access(&[V128], Some(V128), false),
                    V128Store8Lane(_) | V128Store16Lane(_) | V128Store32Lane(_) | V128Store64Lane(_) => access(&[V128], None, true),
                    _ => access(&[], Some(V128), false),
                }
            }
            Instr::AtomicRmw(a) if a.memory == m0 => {
                stats.atomics += 1;
                let t = width_type(&a.width);
                access(&[t], Some(t), false)
            }
            Instr::Cmpxchg(c) if c.memory == m0 => {
                stats.atomics += 1;
                let t = width_type(&c.width);
                access(&[t, t], Some(t), false)
            }
            Instr::AtomicNotify(n) if n.memory == m0 => {
                stats.atomics += 1;
                access(&[I32], Some(I32), false)
            }
            Instr::AtomicWait(w) if w.memory == m0 => {
                stats.atomics += 1;
                access(&[if w.sixty_four { I64 } else { I32 }, I64], Some(I32), false)
            }
            Instr::MemoryFill(f) if f.memory == m0 => {
                stats.fills += 1;
                access(&[I32, I32], None, false)
            }
            Instr::MemoryInit(i) if i.memory == m0 => {
                stats.inits += 1;
                access(&[I32, I32], None, false)
            }
            Instr::MemoryCopy(c) if c.src == m0 || c.dst == m0 => {
                stats.copies += 1;
                Some(Shape::Copy)
            }
            _ => None,
        }
    }

    /// `i32.const c; load` needs no dispatch: the constant says which memory.
    fn constant_address(&self, out: &mut Vec<(Instr, InstrLocId)>, instr: &Instr, loc: InstrLocId, stats: &mut DispatchStats) -> bool {
        let Some((Instr::Const(Const { value: Value::I32(c) }), _)) = out.last_mut() else {
            return false;
        };
        let address = *c as u32;
        let split = self.layout.split;
        let resolved = if address >= split {
            *c = (address - split) as i32;
            retarget(instr, self.layout.ephemeral)
        } else {
            instr.clone()
        };
        // Only loads take no operand besides the address.
        match instr {
            Instr::Load(_) => stats.loads -= 1,
            _ => stats.simd -= 1,
        }
        stats.constant_address += 1;
        out.push((resolved, loc));
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn access(
        &self,
        func: &mut LocalFunction,
        out: &mut Vec<(Instr, InstrLocId)>,
        instr: &Instr,
        loc: InstrLocId,
        operands: &[ValType],
        result: Option<ValType>,
        stored: bool,
    ) {
        let address = self.scratch.address();
        let slots = self.slots(operands, stored);
        for slot in slots.iter().rev() {
            out.push((slot.set(), loc));
        }
        out.push((LocalTee { local: address }.into(), loc));
        self.push_is_tagged(out, loc);

        let builder = func.builder_mut();
        let mut ephemeral = builder.dangling_instr_seq(InstrSeqType::Simple(result));
        ephemeral.instr(LocalGet { local: address });
        self.untag(&mut ephemeral);
        for slot in &slots {
            ephemeral.instr(slot.get());
        }
        ephemeral.instr(retarget(instr, self.layout.ephemeral));
        let consequent = ephemeral.id();

        let mut persistent = builder.dangling_instr_seq(InstrSeqType::Simple(result));
        persistent.instr(LocalGet { local: address });
        for slot in &slots {
            persistent.instr(slot.get());
        }
        persistent.instr(instr.clone());
        let alternative = persistent.id();

        out.push((IfElse { consequent, alternative }.into(), loc));
    }

    fn slots(&self, operands: &[ValType], stored: bool) -> Vec<Slot> {
        // The nth operand of a type gets that type's nth scratch local.
        let (mut i32s, mut i64s) = (0, 0);
        operands
            .iter()
            .map(|&ty| {
                if stored {
                    if let Some(global) = self.scratch.anchor(ty) {
                        return Slot::Global(global);
                    }
                }
                let nth = match ty {
                    ValType::I32 => post_increment(&mut i32s),
                    ValType::I64 => post_increment(&mut i64s),
                    _ => 0,
                };
                Slot::Local(self.scratch.operand(ty, nth))
            })
            .collect()
    }

    /// `memory.copy` with four outcomes: each of source and destination in either memory.
    fn copy(&self, func: &mut LocalFunction, out: &mut Vec<(Instr, InstrLocId)>, loc: InstrLocId) {
        let [dst, src, len, _] = self.scratch.i32s;
        for local in [len, src, dst] {
            out.push((LocalSet { local }.into(), loc));
        }
        out.push((LocalGet { local: dst }.into(), loc));
        self.push_is_tagged(out, loc);
        let (m0, m1) = (self.layout.persistent, self.layout.ephemeral);
        let to_ephemeral = self.copy_by_source(func, dst, m1, src, len, true);
        let to_persistent = self.copy_by_source(func, dst, m0, src, len, false);
        out.push((IfElse { consequent: to_ephemeral, alternative: to_persistent }.into(), loc));
    }

    /// The arm of a copy whose destination memory is known: dispatch on the source.
    fn copy_by_source(&self, func: &mut LocalFunction, dst: LocalId, dst_mem: walrus::MemoryId, src: LocalId, len: LocalId, dst_tagged: bool) -> InstrSeqId {
        let (m0, m1) = (self.layout.persistent, self.layout.ephemeral);
        let builder = func.builder_mut();
        let mut arm = |src_mem, src_tagged| {
            let mut seq = builder.dangling_instr_seq(InstrSeqType::Simple(None));
            seq.instr(LocalGet { local: dst });
            if dst_tagged {
                self.untag(&mut seq);
            }
            seq.instr(LocalGet { local: src });
            if src_tagged {
                self.untag(&mut seq);
            }
            seq.instr(LocalGet { local: len });
            seq.instr(MemoryCopy { src: src_mem, dst: dst_mem });
            seq.id()
        };
        let from_ephemeral = arm(m1, true);
        let from_persistent = arm(m0, false);
        let mut outer = builder.dangling_instr_seq(InstrSeqType::Simple(None));
        outer.instr(LocalGet { local: src });
        outer.i32_const(self.layout.split as i32);
        outer.instr(Binop { op: BinaryOp::I32GeU });
        outer.instr(IfElse { consequent: from_ephemeral, alternative: from_persistent });
        outer.id()
    }

    fn push_is_tagged(&self, out: &mut Vec<(Instr, InstrLocId)>, loc: InstrLocId) {
        out.push((Const { value: Value::I32(self.layout.split as i32) }.into(), loc));
        out.push((Binop { op: BinaryOp::I32GeU }.into(), loc));
    }

    fn push_untag(&self, out: &mut Vec<(Instr, InstrLocId)>, loc: InstrLocId) {
        out.push((Const { value: Value::I32(self.layout.split as i32) }.into(), loc));
        out.push((Binop { op: BinaryOp::I32Sub }.into(), loc));
    }

    fn untag(&self, seq: &mut walrus::InstrSeqBuilder<'_>) {
        seq.i32_const(self.layout.split as i32);
        seq.instr(Binop { op: BinaryOp::I32Sub });
    }
}

/// The memory an access provably reaches, without dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Persistent,
    Ephemeral,
}

/// Where an access with a known address origin goes: persistent ones always
/// to memory 0; those with a versioned tag, in a copy, where the tag says.
fn target(known: &Known, copy: Option<&version::Copy>) -> Option<Target> {
    match known.origin {
        Origin::Persistent => Some(Target::Persistent),
        origin => Some(if copy?.tag(origin)? { Target::Ephemeral } else { Target::Persistent }),
    }
}

fn post_increment(n: &mut usize) -> usize {
    *n += 1;
    *n - 1
}

/// Up to two operands besides the address, without allocating.
#[derive(Clone, Copy)]
struct Operands {
    types: [ValType; 2],
    len: usize,
}

impl Operands {
    fn new(types: &[ValType]) -> Self {
        let mut fixed = [ValType::I32; 2];
        fixed[..types.len()].copy_from_slice(types);
        Operands { types: fixed, len: types.len() }
    }

    fn as_slice(&self) -> &[ValType] {
        &self.types[..self.len]
    }
}

fn load_type(kind: &LoadKind) -> ValType {
    use LoadKind::*;
    match kind {
        I32 { .. } | I32_8 { .. } | I32_16 { .. } => ValType::I32,
        I64 { .. } | I64_8 { .. } | I64_16 { .. } | I64_32 { .. } => ValType::I64,
        F32 => ValType::F32,
        F64 => ValType::F64,
        V128 => ValType::V128,
    }
}

fn store_type(kind: &StoreKind) -> ValType {
    use StoreKind::*;
    match kind {
        I32 { .. } | I32_8 { .. } | I32_16 { .. } => ValType::I32,
        I64 { .. } | I64_8 { .. } | I64_16 { .. } | I64_32 { .. } => ValType::I64,
        F32 => ValType::F32,
        F64 => ValType::F64,
        V128 => ValType::V128,
    }
}

fn width_type(width: &AtomicWidth) -> ValType {
    match width {
        AtomicWidth::I32 | AtomicWidth::I32_8 | AtomicWidth::I32_16 => ValType::I32,
        _ => ValType::I64,
    }
}
