//! The `multimem` command line, as a library so that tests and benchmarks can drive it.

pub mod transform_cmd;
#[cfg(feature = "prove")]
pub mod bench_cmd;
#[cfg(feature = "prove")]
pub mod compile_cmd;
#[cfg(feature = "prove")]
mod plot;
#[cfg(feature = "prove")]
pub mod prove_cmd;
#[cfg(feature = "prove")]
pub mod reference;
#[cfg(feature = "prove")]
pub mod soak;
pub mod startup;
