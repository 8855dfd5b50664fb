//! Copies the defined functions of one module into another, remapping ids.
//!
//! For code the transformer brings along (the ephemeral allocator, written in
//! WAT): module `from`'s memories and imported globals are bound to items of
//! `into` by the caller; its defined globals and functions are copied.
//! `from` may not use tables, data or element segments.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use walrus::ir::*;
use walrus::{ExportItem, FunctionBuilder, FunctionId, FunctionKind, GlobalId, GlobalKind, LocalFunction, LocalId, MemoryId, Module, TypeId};

/// How `from`'s imports and memories are bound in `into`.
pub struct Bindings {
    /// `from`'s memories (by index) -> memories of `into`.
    pub memories: Vec<MemoryId>,
    /// `from`'s imported globals, by import name -> globals of `into`.
    pub globals: HashMap<String, GlobalId>,
}

/// Copies every defined function of `from` into `into`, named `{prefix}{export or index}`;
/// returns `from`'s function exports -> the copies.
pub fn run(from: &Module, into: &mut Module, bindings: &Bindings, prefix: &str) -> Result<HashMap<String, FunctionId>> {
    anyhow::ensure!(from.tables.iter().next().is_none() && from.data.iter().next().is_none(), "copied code may not use tables or data");
    let mut ids = Ids::default();
    for (memory, bound) in from.memories.iter().zip(&bindings.memories) {
        ids.memories.insert(memory.id(), *bound);
    }
    anyhow::ensure!(from.memories.iter().count() == bindings.memories.len(), "every memory of the copied code must be bound");
    for global in from.globals.iter() {
        let copy = match &global.kind {
            GlobalKind::Import(import) => {
                let name = &from.imports.get(*import).name;
                *bindings.globals.get(name).with_context(|| format!("copied code imports global {name}, which is not bound"))?
            }
            GlobalKind::Local(init) => into.globals.add_local(global.ty, global.mutable, global.shared, init.clone()),
        };
        ids.globals.insert(global.id(), copy);
    }
    let names: HashMap<FunctionId, String> = from
        .exports
        .iter()
        .filter_map(|e| match e.item {
            ExportItem::Function(f) => Some((f, e.name.clone())),
            _ => None,
        })
        .collect();
    // Every copy exists before any body is copied: bodies call each other.
    for (id, func) in from.funcs.iter_local() {
        let ty = from.types.get(func.ty());
        let placeholder = FunctionBuilder::new(&mut into.types, ty.params(), ty.results());
        let args = ty.params().iter().map(|&t| into.locals.add(t)).collect();
        let copy = placeholder.finish(args, &mut into.funcs);
        into.funcs.get_mut(copy).name = Some(format!("{prefix}{}", names.get(&id).cloned().unwrap_or_else(|| id.index().to_string())));
        ids.funcs.insert(id, copy);
    }
    if let Some(f) = from.funcs.iter().find(|f| matches!(f.kind, FunctionKind::Import(_))) {
        bail!("copied code imports function {:?}", f.name);
    }
    for (id, func) in from.funcs.iter_local() {
        let body = copy_body(from, func, into, &mut ids);
        into.funcs.get_mut(ids.funcs[&id]).kind = FunctionKind::Local(body);
    }
    Ok(names.into_iter().map(|(f, name)| (name, ids.funcs[&f])).collect())
}

#[derive(Default)]
struct Ids {
    funcs: HashMap<FunctionId, FunctionId>,
    globals: HashMap<GlobalId, GlobalId>,
    memories: HashMap<MemoryId, MemoryId>,
    types: HashMap<TypeId, TypeId>,
    locals: HashMap<LocalId, LocalId>,
    produced_locals: std::collections::HashSet<LocalId>,
}

fn copy_body(from: &Module, func: &LocalFunction, into: &mut Module, ids: &mut Ids) -> LocalFunction {
    let ty = from.types.get(func.ty());
    let mut builder = FunctionBuilder::new(&mut into.types, ty.params(), ty.results());
    let entry = builder.func_body_id();
    let mut seqs = HashMap::from([(func.entry_block(), entry)]);
    copy_seq(func, func.entry_block(), &mut builder, &mut seqs);
    ids.locals.clear();
    ids.produced_locals.clear();
    let args: Vec<LocalId> = func
        .args
        .iter()
        .map(|&a| {
            let copy = into.locals.add(from.locals.get(a).ty());
            ids.locals.insert(a, copy);
            ids.produced_locals.insert(copy);
            copy
        })
        .collect();
    let mut body = builder.local_func(args);
    let mut remap = Remap { from, into, ids };
    dfs_pre_order_mut(&mut remap, &mut body, entry);
    body
}

/// Copies sequence `seq` of `func` (already created as `seqs[seq]`) and everything nested in it.
fn copy_seq(func: &LocalFunction, seq: InstrSeqId, builder: &mut FunctionBuilder, seqs: &mut HashMap<InstrSeqId, InstrSeqId>) {
    let nested = |old: InstrSeqId, builder: &mut FunctionBuilder, seqs: &mut HashMap<InstrSeqId, InstrSeqId>| -> InstrSeqId {
        let new = builder.dangling_instr_seq(func.block(old).ty).id();
        seqs.insert(old, new);
        copy_seq(func, old, builder, seqs);
        new
    };
    let mut instrs = Vec::with_capacity(func.block(seq).instrs.len());
    for (instr, at) in &func.block(seq).instrs {
        let mut instr = instr.clone();
        match &mut instr {
            Instr::Block(b) => b.seq = nested(b.seq, builder, seqs),
            Instr::Loop(l) => l.seq = nested(l.seq, builder, seqs),
            Instr::IfElse(e) => {
                e.consequent = nested(e.consequent, builder, seqs);
                e.alternative = nested(e.alternative, builder, seqs);
            }
            // Branches only target enclosing sequences, copied before their contents.
            Instr::Br(b) => b.block = seqs[&b.block],
            Instr::BrIf(b) => b.block = seqs[&b.block],
            Instr::BrTable(t) => {
                t.blocks = t.blocks.iter().map(|b| seqs[b]).collect();
                t.default = seqs[&t.default];
            }
            _ => {}
        }
        instrs.push((instr, *at));
    }
    *builder.instr_seq(seqs[&seq]).instrs_mut() = instrs;
}

/// Rewrites `from`'s ids into `into`'s.
struct Remap<'a> {
    from: &'a Module,
    into: &'a mut Module,
    ids: &'a mut Ids,
}

// walrus may visit an id more than once (an instruction's visit and its
// operand's): each map leaves ids it produced alone.
impl VisitorMut for Remap<'_> {
    fn visit_function_id_mut(&mut self, id: &mut FunctionId) {
        if let Some(&to) = self.ids.funcs.get(id) {
            *id = to;
        }
    }
    fn visit_global_id_mut(&mut self, id: &mut GlobalId) {
        if let Some(&to) = self.ids.globals.get(id) {
            *id = to;
        }
    }
    fn visit_memory_id_mut(&mut self, id: &mut MemoryId) {
        if let Some(&to) = self.ids.memories.get(id) {
            *id = to;
        }
    }
    fn visit_local_id_mut(&mut self, id: &mut LocalId) {
        if self.ids.produced_locals.contains(id) {
            return;
        }
        let (from, into) = (&*self.from, &mut *self.into);
        *id = *self.ids.locals.entry(*id).or_insert_with(|| into.locals.add(from.locals.get(*id).ty()));
        self.ids.produced_locals.insert(*id);
    }
    fn visit_type_id_mut(&mut self, id: &mut TypeId) {
        // Only `from`'s types: the entry sequence already has a type of `into`.
        if let Some(ty) = self.from.types.iter().find(|t| t.id() == *id) {
            let (params, results) = (ty.params().to_vec(), ty.results().to_vec());
            *id = *self.ids.types.entry(*id).or_insert_with(|| self.into.types.add(&params, &results));
        }
    }
}
