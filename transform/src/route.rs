//! Routing: while a proof is active, the module's own allocator hands out
//! memory 1.
//!
//! Each entry point [`crate::find_allocator`] found keeps its index and
//! becomes a wrapper; its original body moves to a new function that only
//! the wrapper calls. While the proof flag is set, allocations go to the
//! ephemeral heap ([`crate::ephemeral_heap`]) and return tagged pointers.
//! Frees and reallocs go by the pointer's tag: a memory-0 object stays with
//! the original allocator (realloc keeps an object in its memory), a tagged
//! pointer with no proof active belongs to a memory 1 that is gone (free
//! ignores it, realloc fails). While an original runs (`realloc` calling
//! `malloc` inside the allocator), nested calls stay with the originals.

use anyhow::{bail, Result};
use walrus::ir::*;
use walrus::{ConstExpr, FunctionBuilder, FunctionId, FunctionKind, GlobalId, InstrSeqBuilder, LocalId, Module, ValType};

use crate::ephemeral_heap::{self, Heap};
use crate::find_allocator::{self, Entry, Found, Role};
use crate::Layout;

/// What [`run`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Routed {
    /// The allocator found, and why.
    pub allocator: Found,
    /// Entry points now routed.
    pub wrapped: usize,
}

/// The globals routing reads and keeps.
#[derive(Clone, Copy)]
pub struct Flags {
    /// The proof flag the host sets.
    pub proof_active: GlobalId,
    /// Which heap layout this proof uses (see [`crate::abi::heap`]); the host counts proofs in it.
    pub epoch: GlobalId,
    /// Calls into the original allocator in progress: nested calls stay there.
    pub depth: GlobalId,
}

/// Adds the heap and wraps the allocator `found` names.
pub fn run(module: &mut Module, layout: &Layout, found: Found, flags: Flags, heap: Heap) -> Result<Routed> {
    if found.family.is_none() {
        bail!("{}", refusal(&found));
    }
    let ids: Vec<FunctionId> = module.funcs.iter().map(|f| f.id()).collect();
    let mut wrapped = 0;
    for entry in &found.entries {
        let Some(&func) = ids.get(entry.index as usize) else { bail!("allocator entry {} is not a function of the module", entry.index) };
        wrap(module, layout, flags, &heap, entry, func)?;
        wrapped += 1;
    }
    Ok(Routed { allocator: found, wrapped })
}

/// The one line a refused module gets.
pub fn refusal(found: &Found) -> String {
    let why = found.reasons.last().cloned().unwrap_or_else(|| "no allocator found".to_string());
    format!("cannot route this module's allocator: {why}; pass --allocator ROLE=FUNC,... to name it, or --no-route to transform without routing")
}

/// The globals routing adds, and the heap.
pub fn prepare(module: &mut Module, layout: &Layout, proof_active: GlobalId) -> Result<(Flags, Heap)> {
    let stack_pointer = crate::globals::find_stack_pointer(module);
    let mut global = |name: &str| {
        let id = module.globals.add_local(ValType::I32, true, false, ConstExpr::Value(Value::I32(0)));
        module.globals.get_mut(id).name = Some(name.to_string());
        id
    };
    let epoch = global("multimem_proof_epoch");
    // Exported and carried like the module's own globals, so that a trap
    // inside the original allocator does not leave it set.
    let depth = global("multimem.route_depth");
    let stack_top = stack_pointer
        .and_then(|sp| match module.globals.get(sp).kind {
            walrus::GlobalKind::Local(ConstExpr::Value(Value::I32(top))) => Some(top as u32),
            _ => None,
        })
        .unwrap_or(0);
    let sp = match stack_pointer {
        Some(sp) => sp,
        None => {
            let none = module.globals.add_local(ValType::I32, true, false, ConstExpr::Value(Value::I32(0)));
            module.globals.get_mut(none).name = Some("multimem_no_stack".to_string());
            none
        }
    };
    let stack_first = stack_top > 0
        && module.data.iter().all(|d| match &d.kind {
            walrus::DataKind::Active { offset: ConstExpr::Value(Value::I32(at)), .. } => *at as u32 >= stack_top,
            walrus::DataKind::Active { .. } => false,
            walrus::DataKind::Passive => true,
        });
    let params = ephemeral_heap::Params::new(layout.split, stack_top, stack_first);
    let heap = ephemeral_heap::inject(module, &params, layout.ephemeral, epoch, sp)?;
    module.exports.add(crate::abi::EXPORT_PROOF_EPOCH, epoch);
    Ok((Flags { proof_active, epoch, depth }, heap))
}

/// Checks that routing can apply to the module at all.
pub fn check(module: &Module, layout: &Layout) -> Result<()> {
    if layout.shared {
        bail!("memory 0 is shared (a threaded module): routing is not safe under concurrent calls yet; pass --no-route to transform without routing");
    }
    if module.imports.iter().any(|i| i.module == crate::abi::IMPORT_MODULE) {
        bail!("the module links the multimem guest SDK, which routes its own allocations; pass --no-route");
    }
    Ok(())
}

fn wrap(module: &mut Module, layout: &Layout, flags: Flags, heap: &Heap, entry: &Entry, func: FunctionId) -> Result<()> {
    let ty = module.types.get(module.funcs.get(func).ty()).clone();
    let FunctionKind::Local(_) = &module.funcs.get(func).kind else { bail!("allocator entry {} is imported", entry.index) };
    let sig = find_allocator::signature(ty.params(), ty.results(), |t| if *t == ValType::I32 { 'i' } else { '?' });
    anyhow::ensure!(entry.role.accepts(&sig), "allocator entry {} has type {sig}, a {} has {}", entry.index, entry.role.name(), entry.role.signature());

    let mut builder = FunctionBuilder::new(&mut module.types, ty.params(), ty.results());
    let args: Vec<LocalId> = ty.params().iter().map(|&t| module.locals.add(t)).collect();
    // The original body moves to a function of its own; the entry point keeps its index.
    let placeholder = FunctionBuilder::new(&mut module.types, ty.params(), ty.results());
    let placeholder_args = ty.params().iter().map(|&t| module.locals.add(t)).collect();
    let original = module.funcs.add_local(placeholder.local_func(placeholder_args));
    let name = module.funcs.get(func).name.clone().unwrap_or_else(|| format!("func{}", entry.index));
    let (a, b) = (func, original);
    let taken = std::mem::replace(&mut module.funcs.get_mut(a).kind, FunctionKind::Uninitialized(ty.id()));
    let placeholder = std::mem::replace(&mut module.funcs.get_mut(b).kind, taken);
    module.funcs.get_mut(a).kind = placeholder;
    module.funcs.get_mut(original).name = Some(format!("{name}.multimem_original"));

    let own = &args[args.len() - entry.role.own_params()..];
    let w = Wrapper { split: layout.split as i32, flags, heap: *heap, original, args: &args, own, store_memory: layout.persistent };
    w.body(entry.role, &mut builder.func_body());
    module.funcs.get_mut(func).kind = FunctionKind::Local(builder.local_func(args));
    Ok(())
}

struct Wrapper<'a> {
    split: i32,
    flags: Flags,
    heap: Heap,
    original: FunctionId,
    /// All parameters (passed on to the original).
    args: &'a [LocalId],
    /// The role's own parameters (without dlmalloc's state).
    own: &'a [LocalId],
    store_memory: walrus::MemoryId,
}

impl Wrapper<'_> {
    fn body(&self, role: Role, b: &mut InstrSeqBuilder<'_>) {
        let a = self.own;
        let result = |role: Role| if role.signature().ends_with('>') { None } else { Some(ValType::I32) };
        let ty = result(role);
        match role {
            Role::RustAlloc | Role::RustAllocZeroed | Role::Malloc | Role::Calloc | Role::AlignedAlloc | Role::Memalign | Role::DlMalloc | Role::DlMemalign => {
                self.routing(b);
                b.if_else(ty, |then| self.ephemeral_alloc(role, then), |otherwise| self.call_original(otherwise));
            }
            Role::PosixMemalign => {
                self.routing(b);
                b.if_else(
                    ty,
                    |then| {
                        // (out, align, size): the pointer goes to *out, 0 or ENOMEM comes back.
                        let p = a[0];
                        then.local_get(a[2]).local_get(a[1]).call(self.heap.malloc).local_set(a[2]);
                        then.local_get(a[2]).unop(UnaryOp::I32Eqz);
                        then.if_else(
                            ty,
                            |failed| {
                                failed.i32_const(48);
                            },
                            |ok| {
                                ok.local_get(p).local_get(a[2]).store(self.store_memory, StoreKind::I32 { atomic: false }, MemArg { align: 4, offset: 0 });
                                ok.i32_const(0);
                            },
                        );
                    },
                    |otherwise| self.call_original(otherwise),
                );
            }
            Role::RustDealloc | Role::Free | Role::DlFree => {
                let ptr = a[0];
                self.tagged(b, ptr);
                b.if_else(
                    None,
                    |then| {
                        then.global_get(self.flags.proof_active);
                        then.if_else(None, |active| {
                            active.local_get(ptr).call(self.heap.free);
                        }, |_| {});
                    },
                    |otherwise| self.call_original(otherwise),
                );
            }
            Role::RustRealloc | Role::Realloc | Role::DlRealloc => {
                let (ptr, size, align) = match role {
                    Role::RustRealloc => (a[0], a[3], Some(a[2])),
                    _ => (a[0], a[1], None),
                };
                self.tagged(b, ptr);
                b.if_else(
                    ty,
                    |then| {
                        then.global_get(self.flags.proof_active);
                        then.if_else(
                            ty,
                            |active| {
                                active.local_get(ptr).local_get(size);
                                match align {
                                    Some(align) => active.local_get(align),
                                    None => active.i32_const(8),
                                };
                                active.call(self.heap.realloc);
                            },
                            |stale| {
                                stale.i32_const(0);
                            },
                        );
                    },
                    |otherwise| {
                        if role == Role::RustRealloc {
                            self.call_original(otherwise);
                            return;
                        }
                        // realloc(NULL, n) allocates.
                        otherwise.local_get(ptr).unop(UnaryOp::I32Eqz);
                        self.routing(otherwise);
                        otherwise.binop(BinaryOp::I32And);
                        otherwise.if_else(
                            ty,
                            |alloc| {
                                alloc.local_get(size).i32_const(8).call(self.heap.malloc);
                            },
                            |orig| self.call_original(orig),
                        );
                    },
                );
            }
            Role::UsableSize => {
                let ptr = a[0];
                self.tagged(b, ptr);
                b.if_else(
                    ty,
                    |then| {
                        then.local_get(ptr).call(self.heap.usable_size);
                    },
                    |otherwise| self.call_original(otherwise),
                );
            }
        }
    }

    /// The ephemeral call for an allocating role.
    fn ephemeral_alloc(&self, role: Role, b: &mut InstrSeqBuilder<'_>) {
        let a = self.own;
        match role {
            Role::RustAlloc => {
                b.local_get(a[0]).local_get(a[1]).call(self.heap.malloc);
            }
            Role::RustAllocZeroed => {
                b.local_get(a[0]).local_get(a[1]).call(self.heap.calloc);
            }
            Role::Malloc | Role::DlMalloc => {
                b.local_get(a[0]).i32_const(8).call(self.heap.malloc);
            }
            Role::AlignedAlloc | Role::Memalign | Role::DlMemalign => {
                b.local_get(a[1]).local_get(a[0]).call(self.heap.malloc);
            }
            Role::Calloc => {
                // count * size, or a size no heap has when it overflows.
                b.local_get(a[0]).unop(UnaryOp::I64ExtendUI32);
                b.local_get(a[1]).unop(UnaryOp::I64ExtendUI32);
                b.binop(BinaryOp::I64Mul);
                b.i64_const(0xffff_ffff);
                b.binop(BinaryOp::I64GtU);
                b.if_else(
                    Some(ValType::I32),
                    |overflow| {
                        overflow.i32_const(0);
                    },
                    |fits| {
                        fits.local_get(a[0]).local_get(a[1]).binop(BinaryOp::I32Mul).i32_const(8).call(self.heap.calloc);
                    },
                );
            }
            _ => unreachable!("{role:?} does not allocate"),
        }
    }

    /// Pushes whether new allocations go to memory 1: a proof is active and no original allocator call is running.
    fn routing(&self, b: &mut InstrSeqBuilder<'_>) {
        b.global_get(self.flags.proof_active);
        b.global_get(self.flags.depth).unop(UnaryOp::I32Eqz);
        b.binop(BinaryOp::I32And);
    }

    fn tagged(&self, b: &mut InstrSeqBuilder<'_>, ptr: LocalId) {
        b.local_get(ptr).i32_const(self.split).binop(BinaryOp::I32GeU);
    }

    /// Calls the original with the wrapper's arguments, counting the call in `depth`.
    fn call_original(&self, b: &mut InstrSeqBuilder<'_>) {
        let depth = self.flags.depth;
        b.global_get(depth).i32_const(1).binop(BinaryOp::I32Add).global_set(depth);
        for &arg in self.args {
            b.local_get(arg);
        }
        b.call(self.original);
        b.global_get(depth).i32_const(1).binop(BinaryOp::I32Sub).global_set(depth);
    }
}
