//! Function versioning: dispatch once per call instead of once per access.
//!
//! A function whose accesses mostly go through one or two pointer parameters
//! (field arithmetic on `&self, &other`) gets one copy of its body per
//! combination of those parameters' tags, chosen at entry. In each copy an
//! access whose address has the tag of a versioned parameter (see
//! [`crate::provenance::Origin::Param`]) goes straight to its memory.
//! Functions are chosen by how many such accesses they hold per instruction,
//! within a budget of code size.

use std::collections::HashMap;

use walrus::ir::*;
use walrus::{FunctionId, LocalFunction, Module, ValType};

use crate::provenance::{Accesses, Origin};

/// At most this many parameters are versioned on: at most four copies.
const MAX_PARAMS: usize = 2;
/// A parameter is worth versioning on when this many accesses hang off it.
const MIN_ACCESSES: usize = 4;
/// Largest body copied, in instructions.
const MAX_INSTRS: usize = 4000;
/// Instructions the copies may add, as a share of the module's, and at least.
const BUDGET: f64 = 0.4;
const MIN_BUDGET: usize = 1000;

/// The parameters (by index) a function is versioned on, and its result.
#[derive(Clone, Debug)]
pub struct Plan {
    pub params: Vec<usize>,
    result: Option<ValType>,
}

impl Plan {
    /// How many copies of the body: one per combination of tags.
    pub fn copies(&self) -> usize {
        1 << self.params.len()
    }
}

/// Picks the functions to version, densest first, within the size budget.
pub fn plan(module: &Module, known: &HashMap<FunctionId, Accesses>) -> HashMap<FunctionId, Plan> {
    let mut total = 0usize;
    let mut candidates = Vec::new();
    for (id, func) in module.funcs.iter_local() {
        let size = instr_count(func);
        total += size;
        let results = module.types.get(func.ty()).results();
        if size > MAX_INSTRS || results.len() > 1 {
            continue;
        }
        let mut per_param: HashMap<usize, usize> = HashMap::new();
        for k in known[&id].values() {
            if let Origin::Param(p) = k.origin {
                *per_param.entry(p).or_default() += 1;
            }
        }
        let mut params: Vec<(usize, usize)> = per_param.into_iter().filter(|&(_, n)| n >= MIN_ACCESSES).collect();
        params.sort_by_key(|&(p, n)| (std::cmp::Reverse(n), p));
        params.truncate(MAX_PARAMS);
        if params.is_empty() {
            continue;
        }
        let resolved: usize = params.iter().map(|&(_, n)| n).sum();
        let mut chosen: Vec<usize> = params.into_iter().map(|(p, _)| p).collect();
        chosen.sort_unstable();
        let plan = Plan { params: chosen, result: results.first().copied() };
        let cost = size * (plan.copies() - 1);
        candidates.push((resolved as f64 / size as f64, cost, id, plan));
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.index().cmp(&b.2.index())));
    let mut budget = ((total as f64 * BUDGET) as usize).max(MIN_BUDGET);
    let mut plans = HashMap::new();
    for (_, cost, id, plan) in candidates {
        if cost <= budget {
            budget -= cost;
            plans.insert(id, plan);
        }
    }
    plans
}

/// Where a sequence of a versioned function came from, and under which tags it runs.
#[derive(Clone, Copy, Debug)]
pub struct Copy {
    /// The sequence of the original body it is a copy of (provenance is keyed by it).
    pub original: InstrSeqId,
    /// Bit `i` set: `plan.params[i]` is tagged (memory 1) in this copy.
    pub tags: u32,
}

/// Replaces the body by a choice on the versioned parameters' tags between
/// copies of it; returns every sequence of the copies.
pub fn apply(func: &mut LocalFunction, plan: &Plan, split: u32) -> HashMap<InstrSeqId, Copy> {
    let entry = func.entry_block();
    let ty = InstrSeqType::Simple(plan.result);
    let body = crate::dispatch::seqs_under(func, entry);
    let mut copies = HashMap::new();
    let mut arms = Vec::new();
    for tags in 0..plan.copies() as u32 {
        let arm = copy_body(func, entry, &body, ty, tags, &mut copies);
        arms.push(arm);
    }
    // A tree of ifs, the first parameter outermost; `arms[tags]` at the leaves.
    let params: Vec<_> = plan.params.iter().map(|&p| func.args[p]).collect();
    let choice = choose(func, &params, &arms, ty, split, 0, 0);
    func.block_mut(entry).instrs = choice;
    copies
}

fn choose(func: &mut LocalFunction, params: &[walrus::LocalId], arms: &[InstrSeqId], ty: InstrSeqType, split: u32, depth: usize, tags: u32) -> Vec<(Instr, InstrLocId)> {
    if depth == params.len() {
        return vec![(Block { seq: arms[tags as usize] }.into(), InstrLocId::default())];
    }
    let mut arm = |tags| {
        let instrs = choose(func, params, arms, ty, split, depth + 1, tags);
        let id = func.builder_mut().dangling_instr_seq(ty).id();
        func.block_mut(id).instrs = instrs;
        id
    };
    let consequent = arm(tags | 1 << depth);
    let alternative = arm(tags);
    let at = InstrLocId::default();
    vec![
        (LocalGet { local: params[depth] }.into(), at),
        (Const { value: Value::I32(split as i32) }.into(), at),
        (Binop { op: BinaryOp::I32GeU }.into(), at),
        (IfElse { consequent, alternative }.into(), at),
    ]
}

/// A copy of the sequences `body` (the entry first) as one block; branches
/// to the entry (returns with values) now leave the block.
fn copy_body(func: &mut LocalFunction, entry: InstrSeqId, body: &[InstrSeqId], ty: InstrSeqType, tags: u32, copies: &mut HashMap<InstrSeqId, Copy>) -> InstrSeqId {
    let mut map = HashMap::new();
    for &seq in body {
        let seq_ty = if seq == entry { ty } else { func.block(seq).ty };
        let id = func.builder_mut().dangling_instr_seq(seq_ty).id();
        map.insert(seq, id);
        copies.insert(id, Copy { original: seq, tags });
    }
    for &seq in body {
        let instrs = func.block(seq).instrs.iter().map(|(i, at)| (remap(i, &map), *at)).collect();
        func.block_mut(map[&seq]).instrs = instrs;
    }
    map[&entry]
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

fn instr_count(func: &LocalFunction) -> usize {
    crate::dispatch::instr_seqs(func).iter().map(|&s| func.block(s).instrs.len()).sum()
}
