//! multimem guest SDK: a global allocator that puts proof-time allocations
//! in the ephemeral memory 1 and everything else in the persistent memory 0.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: multimem_guest::MultimemAlloc<multimem_guest::Wasm> = multimem_guest::MultimemAlloc::new(multimem_guest::Wasm);
//! ```
//!
//! The guest learns about memory 1 through four imports from module
//! `multimem` (`ephemeral_size`, `ephemeral_grow`, `proof_active`, `split`),
//! which the transformer turns into `memory.size 1`, `memory.grow 1`, a global
//! read and a constant; the table lives in `multimem-transform`'s `abi` module.
//! Untransformed, the host answers "no proof active" and every allocation
//! stays in memory 0: the same binary is the baseline.
#![no_std]

mod ephemeral;
mod platform;
mod router;

pub use ephemeral::{abi as heap_abi, Ephemeral, HEADER_BYTES};
pub use platform::Platform;
#[cfg(target_arch = "wasm32")]
pub use platform::Wasm;
pub use router::{in_persistent_scope, MultimemAlloc};

/// Wasm page size; memory 1 grows by whole pages.
pub const PAGE: usize = 64 * 1024;
