//! A wasmtime host for multimem-transformed provers: memory 0 (persistent)
//! lives as long as the [`Prover`], memory 1 (ephemeral) lives for one proof.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! # let transformed: Vec<u8> = vec![];
//! use multimem_runtime::{Limits, Prover, Strategy};
//! use wasmtime::Val;
//!
//! let engine = multimem_runtime::engine()?;
//! let linker = wasmtime::Linker::<()>::new(&engine);
//! let mut prover = Prover::load(&engine, &linker, &transformed, Strategy::Recreate, Limits::default())?;
//! prover.call("setup", &[Val::I32(1 << 12)])?;             // no proof active: state stays in memory 0
//! let (bytes, metrics) = prover.prove(|proof| {
//!     proof.call("prove", &[Val::I64(7)])?;                    // allocations go to a fresh memory 1
//!     let ptr = proof.call("proof_ptr", &[])?[0].unwrap_i32() as u32;
//!     let len = proof.call("proof_len", &[])?[0].unwrap_i32() as u32;
//!     proof.read(ptr, len)                                      // tagged pointers are translated
//! });                                                           // memory 1 is dropped here
//! println!("{} bytes, {:?}", bytes?.len(), metrics.wall);
//! # Ok(()) }
//! ```

mod checks;
mod artefact;
mod engine;
#[cfg(target_os = "linux")]
mod fork;
mod globals;
mod guest_memory;
mod heap;
mod imported;
mod metrics;
mod plan;
mod prover;
mod session;
mod strategy;
#[cfg(target_os = "linux")]
mod view;

#[cfg(target_os = "linux")]
pub use engine::engine_view;
pub use artefact::precompile;
pub use engine::{engine, engine_for, engine_on_demand};
#[cfg(target_os = "linux")]
pub use fork::Proofs;
pub use guest_memory::GuestMemory;
pub use heap::{Escape, HeapFigures};
pub use metrics::{rss_bytes, ProofMetrics};
pub use prover::Prover;
pub use session::Session;
pub use strategy::{Limits, Strategy};
