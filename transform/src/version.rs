//! Versioning: dispatch once per call or per loop instead of once per access.
//!
//! A function whose accesses mostly go through one or two pointer parameters
//! (field arithmetic on `&self, &other`) gets one copy of its body per
//! combination of those parameters' tags, chosen at entry. A loop whose
//! accesses go through locals it only moves within their objects (a base
//! loaded before the loop, a cursor) gets one copy per combination of those
//! locals' tags, chosen where the loop is entered. In each copy an access
//! whose address has a versioned tag (see [`crate::provenance::Origin`]) goes
//! straight to its memory. Candidates are taken by how many accesses they
//! resolve per instruction copied, within a budget of code size.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use walrus::ir::*;
use walrus::{FunctionId, LocalFunction, LocalId, Module};

use crate::instrs::{instr_seqs, seqs_under};
use crate::provenance::{Accesses, Origin};

/// At most this many tags per function or loop: at most four copies.
const MAX_TAGS: usize = 2;
/// A tag is worth versioning on when this many accesses hang off it.
const MIN_ACCESSES: usize = 4;
/// Largest body copied, in instructions.
const MAX_INSTRS: usize = 4000;
/// Instructions the copies of functions may add, as a share of the module's, and at least.
const BUDGET: f64 = 0.4;
const MIN_BUDGET: usize = 1000;
/// Budgets are shares of at most this many instructions. The reference
/// prover's field and curve arithmetic takes 90k; on modules of millions of
/// instructions, more copies cost transform time and size in code that
/// density cannot tell hot from cold.
const MAX_MEASURED: usize = 1_000_000;
/// The share of the module's instructions the copies of loops may add on top.
/// Small: on the reference prover the hot accesses left after functions are
/// versioned are seldom in loops with a versionable base.
const LOOP_BUDGET: f64 = 0.05;

/// What to version in one function.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Parameters (by index) the whole body is versioned on.
    pub params: Vec<usize>,
    /// The function's result, the type of the choice between its copies.
    result: Option<walrus::ValType>,
    /// Loops (their sequences in the original body) and the locals they are versioned on.
    pub loops: HashMap<InstrSeqId, Vec<LocalId>>,
}

/// What a sequence of a copy is a copy of, and the tags fixed in it.
#[derive(Clone, Debug)]
pub struct Copy {
    /// The sequence of the original body (provenance is keyed by it).
    pub original: InstrSeqId,
    /// Versioned origins ([`Origin::Param`], [`Origin::LoopEntry`]) and whether each is tagged (memory 1) here.
    pub tags: Vec<(Origin, bool)>,
}

impl Copy {
    pub fn tag(&self, origin: Origin) -> Option<bool> {
        self.tags.iter().find(|(o, _)| *o == origin).map(|&(_, t)| t)
    }
}

/// What [`apply`] did.
#[derive(Default)]
pub struct Applied {
    pub copies: HashMap<InstrSeqId, Copy>,
    pub loops: u64,
}

struct Candidate {
    id: FunctionId,
    /// `None` for the whole function, else the loop.
    scope: Option<InstrSeqId>,
    tags: Vec<Origin>,
    resolved: usize,
    size: usize,
}

/// Picks what to version, densest first, within the size budgets: functions
/// first, then loops (whose copies multiply with their function's).
pub fn plan(module: &Module, known: &HashMap<FunctionId, Accesses>) -> HashMap<FunctionId, Plan> {
    let found: Vec<(usize, Vec<Candidate>)> = module.funcs.par_iter_local().map(|(id, func)| candidates(module, id, func, &known[&id])).collect();
    let total: usize = found.iter().map(|(size, _)| size).sum();
    let mut candidates: Vec<Candidate> = found.into_iter().flat_map(|(_, c)| c).collect();
    let density = |c: &Candidate| c.resolved as f64 / c.size as f64;
    candidates.sort_by(|a, b| a.scope.is_some().cmp(&b.scope.is_some()).then(density(b).total_cmp(&density(a))).then(a.id.index().cmp(&b.id.index())));
    let share = |share: f64| ((total.min(MAX_MEASURED) as f64 * share) as usize).max(MIN_BUDGET);
    let mut budget = share(BUDGET);
    let mut loop_budget_added = false;
    let mut plans: HashMap<FunctionId, Plan> = HashMap::new();
    // Loops chosen per function, with the loops nested in each: one loop per
    // nest at most, or the copies would multiply down the nest.
    let mut nests: HashMap<FunctionId, Vec<(InstrSeqId, HashSet<InstrSeqId>)>> = HashMap::new();
    for c in candidates {
        let nested = c.scope.map(|seq| loops_under(module.funcs.get(c.id), seq));
        if let (Some(seq), Some(nested)) = (c.scope, &nested) {
            let chosen = nests.get(&c.id).map(Vec::as_slice).unwrap_or_default();
            if chosen.iter().any(|(other, inside)| inside.contains(&seq) || nested.contains(other)) {
                continue;
            }
        }
        if c.scope.is_some() && !loop_budget_added {
            // What functions left over does not go to loops.
            budget = share(LOOP_BUDGET);
            loop_budget_added = true;
        }
        let function_copies = plans.get(&c.id).map_or(1, |p| 1 << p.params.len());
        let cost = c.size * ((1 << c.tags.len()) - 1) * function_copies;
        if cost > budget {
            continue;
        }
        budget -= cost;
        let plan = plans.entry(c.id).or_default();
        match c.scope {
            None => {
                plan.params = c.tags.iter().filter_map(|o| if let Origin::Param(p) = o { Some(*p) } else { None }).collect();
                plan.result = module.types.get(module.funcs.get(c.id).ty()).results().first().copied();
            }
            Some(seq) => {
                let locals = c.tags.iter().filter_map(|o| if let Origin::LoopEntry(_, l) = o { Some(*l) } else { None }).collect();
                plan.loops.insert(seq, locals);
                nests.entry(c.id).or_default().push((seq, nested.unwrap_or_default()));
            }
        }
    }
    plans
}

/// The function's size in instructions, and what in it is worth versioning.
fn candidates(module: &Module, id: FunctionId, func: &LocalFunction, known: &Accesses) -> (usize, Vec<Candidate>) {
    let size = instr_count(func, func.entry_block());
    let results = module.types.get(func.ty()).results();
    let mut per_scope: HashMap<Option<InstrSeqId>, HashMap<Origin, usize>> = HashMap::new();
    for k in known.values() {
        let scope = match k.origin {
            Origin::Persistent => continue,
            Origin::Param(_) if results.len() > 1 => continue,
            Origin::Param(_) => None,
            Origin::LoopEntry(seq, _) if matches!(func.block(seq).ty, InstrSeqType::MultiValue(_)) => continue,
            Origin::LoopEntry(seq, _) => Some(seq),
        };
        *per_scope.entry(scope).or_default().entry(k.origin).or_default() += 1;
    }
    let mut found = Vec::new();
    for (scope, counts) in per_scope {
        let mut tags: Vec<(Origin, usize)> = counts.into_iter().filter(|&(_, n)| n >= MIN_ACCESSES).collect();
        tags.sort_by_key(|&(o, n)| (std::cmp::Reverse(n), order(o)));
        tags.truncate(MAX_TAGS);
        let size = scope.map_or(size, |seq| instr_count(func, seq));
        if tags.is_empty() || size > MAX_INSTRS {
            continue;
        }
        let resolved = tags.iter().map(|&(_, n)| n).sum();
        found.push(Candidate { id, scope, tags: tags.into_iter().map(|(o, _)| o).collect(), resolved, size });
    }
    (size, found)
}

/// A total order on origins, so that ties are broken the same way every run.
fn order(origin: Origin) -> (usize, usize, usize) {
    match origin {
        Origin::Persistent => (0, 0, 0),
        Origin::Param(k) => (1, k, 0),
        Origin::LoopEntry(seq, local) => (2, seq.index(), local.index()),
    }
}

/// Versions `func` as planned; returns every sequence of the copies.
pub fn apply(func: &mut LocalFunction, plan: &Plan, split: u32) -> Applied {
    let mut applied = Applied::default();
    if !plan.params.is_empty() {
        let entry = func.entry_block();
        let ty = InstrSeqType::Simple(plan.result);
        let tests: Vec<(LocalId, Origin)> = plan.params.iter().map(|&p| (func.args[p], Origin::Param(p))).collect();
        let tree = versions(func, entry, ty, &tests, split, &mut applied.copies, |seq| Block { seq }.into());
        func.block_mut(entry).instrs = tree;
    }
    // One loop at a time, outermost first: its copies hold the loops nested in it.
    while let Some((parent, at, seq, original)) = next_loop(func, plan, &applied.copies) {
        let ty = func.block(seq).ty;
        let tests: Vec<(LocalId, Origin)> = plan.loops[&original].iter().map(|&l| (l, Origin::LoopEntry(original, l))).collect();
        let tree = versions(func, seq, ty, &tests, split, &mut applied.copies, |seq| Loop { seq }.into());
        let wrapper = func.builder_mut().dangling_instr_seq(ty).id();
        func.block_mut(wrapper).instrs = tree;
        func.block_mut(parent).instrs[at].0 = Block { seq: wrapper }.into();
        applied.loops += 1;
    }
    applied
}

/// A planned loop not yet versioned in its place: parent sequence, position, loop, original loop.
fn next_loop(func: &LocalFunction, plan: &Plan, copies: &HashMap<InstrSeqId, Copy>) -> Option<(InstrSeqId, usize, InstrSeqId, InstrSeqId)> {
    if plan.loops.is_empty() {
        return None;
    }
    for parent in instr_seqs(func) {
        for (at, (instr, _)) in func.block(parent).instrs.iter().enumerate() {
            let Instr::Loop(Loop { seq }) = instr else { continue };
            let original = copies.get(seq).map_or(*seq, |c| c.original);
            let Some(locals) = plan.loops.get(&original) else { continue };
            let done = copies.get(seq).is_some_and(|c| c.tag(Origin::LoopEntry(original, locals[0])).is_some());
            if !done {
                return Some((parent, at, *seq, original));
            }
        }
    }
    None
}

/// Copies of `root` and everything in it, one per combination of the tags
/// of `tests`, and the tree of ifs that picks one (the first test outermost);
/// `leaf` wraps a copy's root for its place in the tree.
fn versions(
    func: &mut LocalFunction,
    root: InstrSeqId,
    ty: InstrSeqType,
    tests: &[(LocalId, Origin)],
    split: u32,
    copies: &mut HashMap<InstrSeqId, Copy>,
    leaf: impl Fn(InstrSeqId) -> Instr,
) -> Vec<(Instr, InstrLocId)> {
    let body = seqs_under(func, root);
    let arms: Vec<InstrSeqId> = (0..1u32 << tests.len())
        .map(|bits| {
            let tags: Vec<(Origin, bool)> = tests.iter().enumerate().map(|(i, &(_, origin))| (origin, bits & (1 << i) != 0)).collect();
            copy_body(func, root, &body, ty, &tags, copies)
        })
        .collect();
    Tree { tests, arms: &arms, ty, split, leaf: &leaf }.choose(func, 0, 0)
}

/// The ifs that pick a copy by the tags of `tests`.
struct Tree<'a, F> {
    tests: &'a [(LocalId, Origin)],
    arms: &'a [InstrSeqId],
    ty: InstrSeqType,
    split: u32,
    leaf: &'a F,
}

impl<F: Fn(InstrSeqId) -> Instr> Tree<'_, F> {
    fn choose(&self, func: &mut LocalFunction, depth: usize, bits: u32) -> Vec<(Instr, InstrLocId)> {
        let at = InstrLocId::default();
        if depth == self.tests.len() {
            return vec![((self.leaf)(self.arms[bits as usize]), at)];
        }
        let mut arm = |bits| {
            let instrs = self.choose(func, depth + 1, bits);
            let id = func.builder_mut().dangling_instr_seq(self.ty).id();
            func.block_mut(id).instrs = instrs;
            id
        };
        let consequent = arm(bits | 1 << depth);
        let alternative = arm(bits);
        vec![
            (LocalGet { local: self.tests[depth].0 }.into(), at),
            (Const { value: Value::I32(self.split as i32) }.into(), at),
            (Binop { op: BinaryOp::I32GeU }.into(), at),
            (IfElse { consequent, alternative }.into(), at),
        ]
    }
}

/// A copy of the sequences `body` (`root` first), `root`'s copy of type `ty`;
/// branches to `root` now target its copy. Each copied sequence keeps the
/// tags of what it copies and gains `tags`.
fn copy_body(func: &mut LocalFunction, root: InstrSeqId, body: &[InstrSeqId], ty: InstrSeqType, tags: &[(Origin, bool)], copies: &mut HashMap<InstrSeqId, Copy>) -> InstrSeqId {
    let mut map = HashMap::new();
    for &seq in body {
        let seq_ty = if seq == root { ty } else { func.block(seq).ty };
        let id = func.builder_mut().dangling_instr_seq(seq_ty).id();
        map.insert(seq, id);
        let mut copy = copies.get(&seq).cloned().unwrap_or(Copy { original: seq, tags: Vec::new() });
        copy.tags.extend_from_slice(tags);
        copies.insert(id, copy);
    }
    for &seq in body {
        let instrs = func.block(seq).instrs.iter().map(|(i, at)| (remap(i, &map), *at)).collect();
        func.block_mut(map[&seq]).instrs = instrs;
    }
    map[&root]
}

/// `instr` with the sequences it names replaced by their copies.
fn remap(instr: &Instr, map: &HashMap<InstrSeqId, InstrSeqId>) -> Instr {
    let m = |id: InstrSeqId| *map.get(&id).unwrap_or(&id);
    let mut instr = instr.clone();
    match &mut instr {
        Instr::Block(b) => b.seq = m(b.seq),
        Instr::Loop(l) => l.seq = m(l.seq),
        Instr::IfElse(e) => {
            e.consequent = m(e.consequent);
            e.alternative = m(e.alternative);
        }
        Instr::Br(b) => b.block = m(b.block),
        Instr::BrIf(b) => b.block = m(b.block),
        Instr::BrTable(t) => {
            t.blocks = t.blocks.iter().map(|&b| m(b)).collect();
            t.default = m(t.default);
        }
        _ => {}
    }
    instr
}

/// The loops inside `root` (not `root` itself).
fn loops_under(func: &walrus::Function, root: InstrSeqId) -> HashSet<InstrSeqId> {
    let walrus::FunctionKind::Local(func) = &func.kind else { return HashSet::new() };
    seqs_under(func, root)
        .into_iter()
        .flat_map(|seq| func.block(seq).instrs.iter())
        .filter_map(|(instr, _)| match instr {
            Instr::Loop(l) => Some(l.seq),
            _ => None,
        })
        .collect()
}

fn instr_count(func: &LocalFunction, root: InstrSeqId) -> usize {
    seqs_under(func, root).iter().map(|&s| func.block(s).instrs.len()).sum()
}
