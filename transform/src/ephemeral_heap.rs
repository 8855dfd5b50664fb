//! The ephemeral allocator routing puts into a module: a TLSF heap whose
//! whole state lives in memory 1 (`ephemeral_heap.wat`, header layout in
//! [`crate::abi::heap`]). Written in WAT, assembled with the `wat` crate at
//! transform time and copied in by [`crate::copy_funcs`]: no compiled
//! binary is committed and no wasm32 build runs.
//!
//! Exports of the heap module, all on tagged pointers:
//!
//! | export | type |
//! |---|---|
//! | `malloc` | `(size, align) -> ptr` (0 when memory 1 cannot grow) |
//! | `calloc` | `(size, align) -> ptr`, zeroed |
//! | `free` | `(ptr)`; ignores pointers that are not live blocks of this heap |
//! | `realloc` | `(ptr, size, align) -> ptr`; in place when it can; 0 (old block kept) when it cannot |
//! | `usable_size` | `(ptr) -> bytes` |
//! | `escape` | `(address, value, function)`: check mode, logs a store of a heap pointer into memory 0 |

use std::collections::HashMap;

use anyhow::{Context, Result};
use walrus::{FunctionId, GlobalId, MemoryId, Module};

use crate::abi::heap::*;

const TEMPLATE: &str = include_str!("ephemeral_heap.wat");

/// Where the heap lives and what it reads.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub split: u32,
    /// Where the heap starts in proofs of odd epoch (a memory-1 offset).
    pub base_odd: u32,
    /// The initial stack pointer: the stack grows down from it.
    pub stack_top: u32,
    /// The stack lies below all data (`[0, stack_top)` is all stack).
    pub stack_first: bool,
}

impl Params {
    pub fn new(split: u32, stack_top: u32, stack_first: bool) -> Params {
        let memory1_bytes = (1u64 << 32) - split as u64;
        let base_odd = (memory1_bytes / HEAP_BASE_ODD_SHARE as u64) as u32 & !0xffff;
        Params { split, base_odd: base_odd.max(HEAP_HEADER_BYTES.next_multiple_of(0x10000)), stack_top, stack_first }
    }
}

/// The heap module's text with its constants filled in.
pub fn source(p: &Params) -> String {
    let constants: [(&str, u32); 21] = [
        ("STACK_FIRST", p.stack_first as u32),
        ("SPLIT", p.split),
        ("BASE_EVEN", HEAP_BASE_EVEN),
        ("BASE_ODD", p.base_odd),
        ("STACK_TOP", p.stack_top),
        ("MAGIC", HEAP_MAGIC),
        ("KIND", HEAP_KIND_ROUTED),
        ("MAGIC_AT", HEAP_MAGIC_AT),
        ("KIND_AT", HEAP_KIND_AT),
        ("BASE_AT", HEAP_BASE_AT),
        ("TOP_AT", HEAP_TOP_AT),
        ("LIVE_AT", HEAP_LIVE_AT),
        ("PEAK_AT", HEAP_PEAK_AT),
        ("ALLOCATIONS_AT", HEAP_ALLOCATIONS_AT),
        ("ESCAPES_AT", HEAP_ESCAPES_AT),
        ("EPOCH_AT", HEAP_EPOCH_AT),
        ("LOG_AT", ESCAPE_LOG_AT),
        ("LOG_AT_4", ESCAPE_LOG_AT + 4),
        ("LOG_ENTRIES", ESCAPE_LOG_ENTRIES),
        ("FL_MAP", HEAP_PRIVATE_AT),
        ("SL_MAPS", HEAP_PRIVATE_AT + 64),
    ];
    let mut text = TEMPLATE.replace("{HEADS}", &(HEAP_PRIVATE_AT + 64 + 32 * 4).to_string());
    for (name, value) in constants {
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    text
}

/// The heap as a standalone module (imports `multimem.proof_epoch` and
/// `multimem.stack_pointer` globals, exports its memory): for tests.
pub fn standalone(p: &Params) -> Result<Vec<u8>> {
    wat::parse_str(source(p)).context("internal error: the ephemeral heap does not assemble")
}

/// The heap's functions in a module.
#[derive(Clone, Copy, Debug)]
pub struct Heap {
    pub malloc: FunctionId,
    pub calloc: FunctionId,
    pub free: FunctionId,
    pub realloc: FunctionId,
    pub usable_size: FunctionId,
    pub escape: FunctionId,
}

/// Copies the heap into `module`, on `memory1`, reading `epoch` and `stack_pointer`.
pub fn inject(module: &mut Module, p: &Params, memory1: MemoryId, epoch: GlobalId, stack_pointer: GlobalId) -> Result<Heap> {
    let heap = walrus::Module::from_buffer(&standalone(p)?)?;
    let bindings = crate::copy_funcs::Bindings {
        memories: vec![memory1],
        globals: HashMap::from([("proof_epoch".to_string(), epoch), ("stack_pointer".to_string(), stack_pointer)]),
    };
    let f = crate::copy_funcs::run(&heap, module, &bindings, "multimem_heap_")?;
    let get = |name: &str| f.get(name).copied().with_context(|| format!("the heap exports no {name}"));
    Ok(Heap {
        malloc: get("malloc")?,
        calloc: get("calloc")?,
        free: get("free")?,
        realloc: get("realloc")?,
        usable_size: get("usable_size")?,
        escape: get("escape")?,
    })
}
