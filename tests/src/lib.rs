//! Shared by the integration tests and the fuzz targets: generating modules
//! with wasm-smith and running original and transformed side by side.

pub mod corpus;
pub mod differential;
pub mod fork;
pub mod node;
pub mod pointers;
pub mod routing;
pub mod smith;
