//! Which memory-0 accesses provably address memory 0, so need no dispatch.
//!
//! A pointer is *persistent* when it is a constant below the split, the stack
//! pointer, an immutable global below the split, or one of those moved by an
//! offset (a small constant, or any value itself below the split: two pointers
//! are never added) or masked with `and`, possibly passed through locals or
//! the parameters of functions only called directly. Such
//! an address never points into memory 1: the stack and the statics live in
//! memory 0, and no object crosses the split (memory 0 ends there). The stack
//! pointer counts only if the whole module keeps the stack where it is —
//! every `global.set` of it stores a persistent value, or one moved by some
//! amount — which a module that points it at a new stack from the heap
//! (threads, fibers) does not. A host that writes the stack pointer through
//! its export must also keep it in memory 0 (multimem's runtime only restores
//! values it read).
//!
//! Other addresses may still have a known origin: the tag a parameter had on
//! entry, or a local had when its loop was entered, moved the same way; the
//! versioning pass makes copies in which those tags are fixed.
//!
//! Locals are tracked flow-sensitively over the structured control flow
//! (LLVM reuses one local for unrelated values); operands are found by stack
//! effects (see [`crate::operands`]), and whatever cannot be read stays
//! dispatched.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use walrus::ir::*;
use walrus::{ConstExpr, FunctionId, GlobalId, GlobalKind, LocalFunction, LocalId, Module};

use crate::operands::StackEffects;

/// Longest chain of nested operands read back; deeper expressions stay unknown.
const MAX_DEPTH: usize = 16;
/// Largest negative constant offset (as `i32.add` of a negative number) a
/// pointer may move by and keep its tag.
const MAX_OFFSET: u32 = 1 << 24;

/// What is known of a pointer's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Below the split: memory 0.
    Persistent,
    /// The tag the function's `k`th parameter had on entry (a pointer moved
    /// within its object keeps its tag).
    Param(usize),
    /// The tag a local had when control entered the loop (the loop's
    /// sequence) from outside; inside, the loop only moves it within its object.
    LoopEntry(InstrSeqId, LocalId),
}

/// A memory access whose address has a known [`Origin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    pub origin: Origin,
    /// The instruction, in the access's sequence, that pushes the address.
    pub address: usize,
}

/// Memory accesses, by sequence and position, whose address's tag is known.
pub type Accesses = FxHashMap<(InstrSeqId, usize), Known>;

/// Rounds of the module-wide fixed point before giving up on its assumptions.
const MAX_ROUNDS: usize = 32;
/// Instructions the walk of a function may visit per instruction it has.
const WORK_PER_INSTR: usize = 24;
/// Entries into a loop that find its fixed point from the entry state alone.
const PRECISE_VISITS: usize = 2;

/// Finds, in every defined function, the accesses that need no dispatch.
///
/// Optimistic assumptions — the stack pointer, and every parameter of a
/// function only called directly, hold persistent pointers — are checked
/// against every write and call site and dropped where they fail, until
/// the analysis agrees with what it assumed. Functions are walked callers
/// first (see [`crate::call_order`]), so a parameter's assumption is final
/// when its function is walked, except in recursion, which is walked again
/// until it agrees.
pub fn run(module: &Module, split: u32) -> HashMap<FunctionId, Accesses> {
    let constant_globals: HashSet<GlobalId> = module
        .globals
        .iter()
        .filter(|g| !g.mutable && matches!(g.kind, GlobalKind::Local(ConstExpr::Value(Value::I32(c))) if (c as u32) < split))
        .map(|g| g.id())
        .collect();
    let mut stack_pointer = crate::globals::find_stack_pointer(module).filter(|&sp| {
        matches!(module.globals.get(sp).kind, GlobalKind::Local(ConstExpr::Value(Value::I32(init))) if (init as u32) < split)
    });
    let effects = StackEffects::new(module);
    let ids: Vec<FunctionId> = module.funcs.iter_local().map(|(id, _)| id).collect();
    let mut facts: FxHashMap<FunctionId, Facts> = module.funcs.par_iter_local().map(|(id, func)| (id, Facts::new(func, &module.locals, stack_pointer))).collect();
    let mut params = direct_only_params(module, &facts);
    for f in facts.values_mut() {
        f.calls_with_params = f.calls.iter().copied().filter(|c| params.contains_key(c)).collect();
        f.calls_with_params.sort_by_key(|c| c.index());
        f.calls_with_params.dedup();
    }
    let waves = crate::call_order::waves(&ids, |f| &facts[&f].calls_with_params);
    let analyse = |stack_pointer, params: &Params, only: &[FunctionId]| {
        let roots = Roots { split, stack_pointer, constant_globals: &constant_globals, params, effects: &effects };
        only.par_iter().map(|&id| (id, roots.function(id, local(module, id), &facts[&id]))).collect::<Vec<_>>()
    };
    let mut results: HashMap<FunctionId, FunctionResult> = HashMap::new();
    'attempt: loop {
        results.clear();
        for wave in &waves {
            let mut walk = wave.clone();
            for _ in 0..MAX_ROUNDS {
                results.extend(analyse(stack_pointer, &params, &walk));
                // Callees in later waves are not walked yet; one already walked is in this wave's recursion.
                let mut again = FxHashSet::default();
                for (callee, args) in walk.iter().flat_map(|id| &results[id].calls) {
                    for (assumed, &persistent) in params.get_mut(callee).into_iter().flatten().zip(args) {
                        if *assumed && !persistent {
                            *assumed = false;
                            if results.contains_key(callee) {
                                again.insert(*callee);
                            }
                        }
                    }
                }
                walk = again.into_iter().collect();
                if walk.is_empty() {
                    break;
                }
            }
            if !walk.is_empty() {
                // No agreement in time: assume nothing.
                return analyse(None, &Params::new(), &ids).into_iter().map(|(id, r)| (id, r.accesses)).collect();
            }
            if stack_pointer.is_some() && !wave.iter().all(|id| results[id].keeps_stack_pointer) {
                stack_pointer = None;
                continue 'attempt;
            }
        }
        return results.into_iter().map(|(id, r)| (id, r.accesses)).collect();
    }
}

fn local(module: &Module, id: FunctionId) -> &LocalFunction {
    match &module.funcs.get(id).kind {
        walrus::FunctionKind::Local(func) => func,
        _ => unreachable!("only defined functions are walked"),
    }
}

/// For each function called only directly, whether each parameter is assumed persistent.
type Params = HashMap<FunctionId, Vec<bool>>;

/// Every defined function that nothing outside direct calls can reach (not
/// exported, not the start function, not in a table or a `ref.func`), with all
/// of its parameters assumed persistent.
fn direct_only_params(module: &Module, facts: &FxHashMap<FunctionId, Facts>) -> Params {
    let mut escaping: HashSet<FunctionId> = module.start.into_iter().collect();
    escaping.extend(module.exports.iter().filter_map(|e| match e.item {
        walrus::ExportItem::Function(f) => Some(f),
        _ => None,
    }));
    for element in module.elements.iter() {
        match &element.items {
            walrus::ElementItems::Functions(fs) => escaping.extend(fs),
            walrus::ElementItems::Expressions(_, exprs) => escaping.extend(exprs.iter().flat_map(const_expr_funcs)),
        }
    }
    for global in module.globals.iter() {
        if let GlobalKind::Local(init) = &global.kind {
            escaping.extend(const_expr_funcs(init));
        }
    }
    escaping.extend(facts.values().flat_map(|f| &f.refs));
    module.funcs.iter_local().filter(|(id, _)| !escaping.contains(id)).map(|(id, func)| (id, vec![true; func.args.len()])).collect()
}

fn const_expr_funcs(expr: &ConstExpr) -> Vec<FunctionId> {
    match expr {
        ConstExpr::RefFunc(f) => vec![*f],
        ConstExpr::Extended(ops) => ops
            .iter()
            .filter_map(|op| match op {
                walrus::ConstOp::RefFunc(f) => Some(*f),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

struct Roots<'a> {
    split: u32,
    stack_pointer: Option<GlobalId>,
    constant_globals: &'a HashSet<GlobalId>,
    params: &'a Params,
    effects: &'a StackEffects<'a>,
}

/// What every round needs of a function, gathered once.
#[derive(Default)]
struct Facts {
    /// The i32 locals it names (the only ones an address can come from), by index.
    locals: Vec<LocalId>,
    instrs: usize,
    /// Exceptions or typed-reference branches, which the walk does not follow.
    unmodelled: bool,
    /// Whether it sets the stack pointer, and the functions it calls directly (for when it is not walked).
    sets_stack_pointer: bool,
    calls: Vec<FunctionId>,
    /// Its callees whose parameters are assumed, once each: they are walked after it.
    calls_with_params: Vec<FunctionId>,
    /// The functions it takes a reference to.
    refs: Vec<FunctionId>,
}

impl Facts {
    fn new(func: &LocalFunction, module_locals: &walrus::ModuleLocals, stack_pointer: Option<GlobalId>) -> Facts {
        let mut locals = FxHashSet::default();
        let mut facts = Facts::default();
        for seq in crate::instrs::instr_seqs(func) {
            let instrs = &func.block(seq).instrs;
            facts.instrs += instrs.len();
            for (instr, _) in instrs {
                match instr {
                    Instr::LocalGet(LocalGet { local }) | Instr::LocalSet(LocalSet { local }) | Instr::LocalTee(LocalTee { local }) => {
                        locals.insert(*local);
                    }
                    Instr::GlobalSet(g) if Some(g.global) == stack_pointer => facts.sets_stack_pointer = true,
                    Instr::RefFunc(r) => facts.refs.push(r.func),
                    Instr::Call(Call { func }) | Instr::ReturnCall(ReturnCall { func }) => facts.calls.push(*func),
                    Instr::Try(_) | Instr::TryTable(_) | Instr::BrOnNull(_) | Instr::BrOnNonNull(_) | Instr::BrOnCast(_) | Instr::BrOnCastFail(_) => {
                        facts.unmodelled = true
                    }
                    _ => {}
                }
            }
        }
        facts.locals = locals.into_iter().filter(|&l| module_locals.get(l).ty() == walrus::ValType::I32).collect();
        facts.locals.sort_by_key(|l| l.index());
        facts
    }
}

#[derive(Default)]
struct FunctionResult {
    accesses: Accesses,
    keeps_stack_pointer: bool,
    /// Direct calls to functions in [`Params`]: callee, and whether each argument is persistent.
    calls: Vec<(FunctionId, Vec<bool>)>,
}

impl Roots<'_> {
    fn function(&self, id: FunctionId, func: &LocalFunction, facts: &Facts) -> FunctionResult {
        if facts.unmodelled {
            return self.unknown(facts);
        }
        let locals = facts.locals.clone();
        let slots: FxHashMap<LocalId, usize> = locals.iter().enumerate().map(|(i, &l)| (l, i)).collect();
        // Locals start at zero, a persistent address; parameters as assumed, else their own tag.
        let assumed = self.params.get(&id);
        let mut origins = Origins::default();
        let mut entry = State(vec![origins.code(Some(Origin::Persistent)); locals.len()]);
        for (k, param) in func.args.iter().enumerate() {
            if let Some(&slot) = slots.get(param) {
                entry.0[slot] = origins.code(Some(if assumed.is_some_and(|a| a[k]) { Origin::Persistent } else { Origin::Param(k) }));
            }
        }
        let budget = WORK_PER_INSTR * facts.instrs + 10_000;
        let result = FunctionResult { keeps_stack_pointer: true, ..Default::default() };
        let (labels, heads, visits) = Default::default();
        let mut walk = Walk { roots: self, locals, slots, journal: Journal::new(), origins, labels, heads, visits, budget, result };
        walk.seq(func, func.entry_block(), Some(entry));
        if walk.budget == 0 {
            return self.unknown(facts);
        }
        walk.result
    }

    /// What is known of a function the walk does not follow: nothing.
    fn unknown(&self, facts: &Facts) -> FunctionResult {
        // Once the stack pointer is untrusted, this no longer matters.
        let keeps_stack_pointer = self.stack_pointer.is_none() || !facts.sets_stack_pointer;
        // Its calls are not read: their arguments count as unknown.
        let calls = facts.calls.iter().filter_map(|callee| Some((*callee, vec![false; self.params.get(callee)?.len()]))).collect();
        FunctionResult { keeps_stack_pointer, calls, ..Default::default() }
    }
}

/// The origin of each local (by slot) at a point of the function, as codes
/// of [`Origins`]: states are copied at every join, so they stay small.
#[derive(Clone, PartialEq, Eq)]
struct State(Vec<u32>);

/// Numbers the origins a walk meets; 0 is "unknown".
#[derive(Default)]
struct Origins {
    all: Vec<Origin>,
    codes: FxHashMap<Origin, u32>,
}

impl Origins {
    fn code(&mut self, origin: Option<Origin>) -> u32 {
        let Some(origin) = origin else { return 0 };
        *self.codes.entry(origin).or_insert_with(|| {
            self.all.push(origin);
            self.all.len() as u32
        })
    }

    fn origin(&self, code: u32) -> Option<Origin> {
        code.checked_sub(1).map(|i| self.all[i as usize])
    }
}

/// Where control may flow together: `None` is unreachable, the identity.
fn meet(a: Option<State>, b: Option<State>) -> Option<State> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            for (x, y) in a.0.iter_mut().zip(&b.0) {
                if x != y {
                    *x = 0;
                }
            }
            Some(a)
        }
        (a, None) => a,
        (None, b) => b,
    }
}

struct Walk<'r, 'a> {
    roots: &'r Roots<'a>,
    /// The function's i32 locals (the only ones an address can come from), by slot, and the slot of each.
    locals: Vec<LocalId>,
    slots: FxHashMap<LocalId, usize>,
    journal: Journal,
    origins: Origins,
    /// Instructions the walk may still visit (nested loops re-walk their
    /// bodies); at zero it gives up on the function.
    budget: usize,
    /// The state reaching each label through branches.
    labels: FxHashMap<InstrSeqId, Option<State>>,
    /// Each loop's head at its last fixed point, and how often it was entered.
    heads: FxHashMap<InstrSeqId, State>,
    visits: FxHashMap<InstrSeqId, usize>,
    result: FunctionResult,
}

impl Walk<'_, '_> {
    /// Walks one sequence from `state`, returning the state where it falls through.
    fn seq(&mut self, func: &LocalFunction, seq: InstrSeqId, mut state: Option<State>) -> Option<State> {
        let instrs = &func.block(seq).instrs;
        let start = self.journal.len();
        // When (in the journal's clock) each instruction of this sequence was reached.
        let mut times = Vec::with_capacity(instrs.len());
        for (i, (instr, _)) in instrs.iter().enumerate() {
            let Some(current) = &state else {
                break; // the rest of the sequence is dead code
            };
            if self.budget == 0 {
                return None;
            }
            self.budget -= 1;
            times.push(self.journal.len());
            let reader = Reader { roots: self.roots, func, instrs, slots: &self.slots, state: current, journal: &self.journal, origins: &self.origins, times: &times };
            match instr {
                Instr::LocalSet(LocalSet { local }) | Instr::LocalTee(LocalTee { local }) => {
                    if let Some(&slot) = self.slots.get(local) {
                        let origin = self.origins.code(reader.value_origin(i));
                        let was = std::mem::replace(&mut state.as_mut().unwrap().0[slot], origin);
                        self.journal.push((slot, was));
                    }
                }
                Instr::GlobalSet(g) if Some(g.global) == self.roots.stack_pointer => {
                    if !reader.moves_persistent(i) {
                        self.result.keeps_stack_pointer = false;
                    }
                }
                // The last visit decides: a loop's walks end at its fixed point.
                Instr::Load(_) | Instr::Store(_) | Instr::LoadSimd(_) => match reader.access(i) {
                    Some(known) => drop(self.result.accesses.insert((seq, i), known)),
                    None => drop(self.result.accesses.remove(&(seq, i))),
                },
                Instr::Call(Call { func: callee }) | Instr::ReturnCall(ReturnCall { func: callee }) => {
                    if let Some(params) = self.roots.params.get(callee) {
                        let args = reader.arguments(i, params.len());
                        self.result.calls.push((*callee, args));
                    }
                }
                Instr::Block(b) => state = self.block(func, b.seq, state),
                Instr::Loop(l) => state = self.looped(func, l.seq, state),
                Instr::IfElse(e) => {
                    let consequent = self.block(func, e.consequent, state.clone());
                    let alternative = self.block(func, e.alternative, state);
                    state = meet(consequent, alternative);
                }
                Instr::Br(b) => self.branch(b.block, &state),
                Instr::BrIf(b) => self.branch(b.block, &state),
                Instr::BrTable(t) => {
                    for &target in t.blocks.iter().chain([&t.default]) {
                        self.branch(target, &state);
                    }
                }
                _ => {}
            }
            if instr.following_instructions_are_unreachable() {
                state = None;
            }
        }
        self.compact_journal(start);
        state
    }

    /// Once a sequence is walked, only the first of its assignments to each
    /// local can matter (to operands pushed before it): drop the rest.
    fn compact_journal(&mut self, start: usize) {
        if self.journal.len() - start < 64 {
            return;
        }
        let mut seen = FxHashSet::default();
        let mut kept = start;
        for i in start..self.journal.len() {
            if seen.insert(self.journal[i].0) {
                self.journal[kept] = self.journal[i];
                kept += 1;
            }
        }
        self.journal.truncate(kept);
    }

    /// A block (or an arm of an if): its end is reached by falling through or by a branch.
    fn block(&mut self, func: &LocalFunction, seq: InstrSeqId, state: Option<State>) -> Option<State> {
        self.labels.insert(seq, None);
        let fallthrough = self.seq(func, seq, state);
        meet(fallthrough, self.labels.remove(&seq).flatten())
    }

    /// A loop's head is reached from before it and by branches back; walk to a fixed point.
    fn looped(&mut self, func: &LocalFunction, seq: InstrSeqId, entry: Option<State>) -> Option<State> {
        // What enters with no known origin enters with some tag all the same.
        let mut head = entry.map(|mut state| {
            // Not journaled: an operand pushed before the loop and read as
            // `LoopEntry` is used after it, where no copy fixes that tag.
            for (slot, origin) in state.0.iter_mut().enumerate() {
                if *origin == 0 {
                    *origin = self.origins.code(Some(Origin::LoopEntry(seq, self.locals[slot])));
                }
            }
            state
        });
        // After a few visits, start from where the last visit's fixed point
        // ended: an enclosing loop's walks only lose information, so a deeply
        // nested loop converges at once instead of re-walking its fixed point
        // on every outer walk (walks then grow with the depth of a nest, not
        // exponentially). Sound from any start below the entry; the first
        // visits start from the entry alone, which keeps the tags of locals
        // that only become unknown on an outer loop's later walks.
        let visits = self.visits.entry(seq).or_default();
        *visits += 1;
        if *visits > PRECISE_VISITS {
            if let Some(last) = self.heads.get(&seq) {
                head = meet(head, Some(last.clone()));
            }
        }
        loop {
            self.labels.insert(seq, None);
            let fallthrough = self.seq(func, seq, head.clone());
            let back = self.labels.remove(&seq).flatten();
            let next = meet(head.clone(), back);
            if next == head {
                if let Some(head) = head {
                    self.heads.insert(seq, head);
                }
                return fallthrough;
            }
            head = next;
        }
    }

    fn branch(&mut self, target: InstrSeqId, state: &Option<State>) {
        // A label not on the walk's path is the function's own (a return).
        if let Some(label) = self.labels.get_mut(&target) {
            *label = meet(label.take(), state.clone());
        }
    }
}

/// Every assignment the walk made, in order: the local's slot and its origin before.
/// An operand pushed before nested code that assigns its local reads the
/// origin from before: the earliest entry since it was pushed.
type Journal = Vec<(usize, u32)>;

/// Reads operands of one sequence at one point of the walk.
struct Reader<'a> {
    roots: &'a Roots<'a>,
    func: &'a LocalFunction,
    instrs: &'a [(Instr, InstrLocId)],
    slots: &'a FxHashMap<LocalId, usize>,
    state: &'a State,
    journal: &'a Journal,
    origins: &'a Origins,
    /// The journal's length when each instruction of the sequence so far was reached.
    times: &'a [usize],
}

impl Reader<'_> {
    /// The instruction that pushed the value `depth` below the top before `instrs[end]`.
    fn producer(&self, end: usize, depth: usize) -> Option<usize> {
        self.roots.effects.producer(self.func, self.instrs, end, depth)
    }

    /// The origin of the value on top of the stack just before `instrs[end]`.
    fn value_origin(&self, end: usize) -> Option<Origin> {
        self.origin(self.producer(end, 0)?, 0)
    }

    /// The origin of the value `instrs[at]` pushes.
    fn origin(&self, at: usize, depth: usize) -> Option<Origin> {
        if depth > MAX_DEPTH {
            return None;
        }
        let persistent = |p: bool| p.then_some(Origin::Persistent);
        let constant = |at: usize| match self.instrs[at].0 {
            Instr::Const(Const { value: Value::I32(c) }) => Some(c),
            _ => None,
        };
        let small = |at| constant(at).is_some_and(|c: i32| c.unsigned_abs() < MAX_OFFSET);
        match &self.instrs[at].0 {
            Instr::Const(Const { value: Value::I32(c) }) => persistent((*c as u32) < self.roots.split),
            Instr::GlobalGet(g) => persistent(Some(g.global) == self.roots.stack_pointer || self.roots.constant_globals.contains(&g.global)),
            Instr::LocalGet(l) => self.local_at(l.local, at),
            Instr::LocalTee(_) => self.origin(self.producer(at, 0)?, depth + 1),
            Instr::Binop(Binop { op }) => {
                let (left, right) = (self.producer(at, 1)?, self.producer(at, 0)?);
                let recurse = |at| self.origin(at, depth + 1);
                // A pointer moves within its object by an offset: a small
                // constant, or any value below the split (a persistent origin;
                // two pointers are never added, and an offset that is itself
                // below the split keeps the pointer's tag).
                let moved = |pointer, offset| match recurse(offset) {
                    _ if small(offset) => recurse(pointer),
                    Some(Origin::Persistent) => recurse(pointer),
                    _ => None,
                };
                match op {
                    BinaryOp::I32Add => match (constant(left), constant(right)) {
                        (Some(a), Some(b)) => persistent((a.wrapping_add(b) as u32) < self.roots.split),
                        _ => moved(left, right).or_else(|| moved(right, left)),
                    },
                    BinaryOp::I32Sub => moved(left, right),
                    // Unsigned, `p & m <= p`.
                    BinaryOp::I32And => persistent(recurse(left) == Some(Origin::Persistent) || recurse(right) == Some(Origin::Persistent)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The origin `local` had just before `instrs[at]`.
    fn local_at(&self, local: LocalId, at: usize) -> Option<Origin> {
        let slot = *self.slots.get(&local)?;
        let since = self.times[at];
        let mut origin = self.state.0[slot];
        for &(s, was) in self.journal[since..].iter().rev() {
            if s == slot {
                origin = was;
            }
        }
        self.origins.origin(origin)
    }

    /// Whether the value before `instrs[end]` is persistent or a persistent one
    /// moved by any amount: how a stack pointer is bumped (wasm-bindgen's
    /// `__wbindgen_add_to_stack_pointer` takes the amount as a parameter),
    /// unlike pointing it at a new stack from the heap.
    fn moves_persistent(&self, end: usize) -> bool {
        let Some(at) = self.producer(end, 0) else { return false };
        if self.origin(at, 0) == Some(Origin::Persistent) {
            return true;
        }
        let Instr::Binop(Binop { op }) = &self.instrs[at].0 else { return false };
        let is_persistent = |depth| self.producer(at, depth).is_some_and(|p| self.origin(p, 0) == Some(Origin::Persistent));
        match op {
            BinaryOp::I32Add => is_persistent(0) || is_persistent(1),
            BinaryOp::I32Sub => is_persistent(1),
            _ => false,
        }
    }

    /// Whether each of the `n` arguments of the call at `instrs[at]` is persistent.
    fn arguments(&self, at: usize, n: usize) -> Vec<bool> {
        (0..n).map(|k| self.producer(at, n - 1 - k).is_some_and(|p| self.origin(p, 0) == Some(Origin::Persistent))).collect()
    }

    /// The origin of the address of the memory access at `instrs[at]`.
    fn access(&self, at: usize) -> Option<Known> {
        if !matches!(self.instrs[at].0, Instr::Load(_) | Instr::Store(_) | Instr::LoadSimd(_)) {
            return None;
        }
        // The address is the first operand: below the others.
        let (pops, _) = self.roots.effects.of(self.func, &self.instrs[at].0)?;
        let operands_after_address = pops - 1;
        let address = self.producer(at, operands_after_address)?;
        Some(Known { origin: self.origin(address, 0)?, address })
    }
}
