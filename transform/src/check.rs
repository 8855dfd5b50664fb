//! Step 1: decide whether a module can be transformed, with a reason when not.
//!
//! A fast header scan with wasmparser, before walrus parses (and validates)
//! the whole module, so that the common refusals name their reason.

use anyhow::{bail, Result};
use wasmparser::{Encoding, Parser, Payload, TypeRef};

use crate::abi::{MARKER_SECTION, RESERVED_EXPORT_PREFIX};

/// The one memory of an acceptable input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMemory {
    pub imported: bool,
    pub shared: bool,
    pub initial: u64,
    pub maximum: Option<u64>,
}

/// Returns the module's one memory, or why the module cannot be transformed.
pub fn check(wasm: &[u8]) -> Result<InputMemory> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        bail!("not a WebAssembly binary (missing the \\0asm magic number)");
    }
    let mut memories = Vec::new();
    // Reported after the scan: a transformed module has these too, and is refused for that.
    let mut reserved = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| anyhow::anyhow!("malformed module: {e}"))?;
        match payload {
            Payload::Version { encoding: Encoding::Component, .. } => {
                bail!("this is a component, not a core module: transform the core module inside it")
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| anyhow::anyhow!("malformed import section: {e}"))?;
                    if let TypeRef::Memory(ty) = import.ty {
                        memories.push((true, ty));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for ty in reader {
                    let ty = ty.map_err(|e| anyhow::anyhow!("malformed memory section: {e}"))?;
                    memories.push((false, ty));
                }
            }
            Payload::CustomSection(s) if s.name() == MARKER_SECTION => {
                bail!("module was already transformed by multimem")
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| anyhow::anyhow!("malformed export section: {e}"))?;
                    if export.name.starts_with(RESERVED_EXPORT_PREFIX) && reserved.is_none() {
                        reserved = Some(export.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(name) = reserved {
        bail!("the module exports `{name}`: exports named `{RESERVED_EXPORT_PREFIX}*` are the ones multimem adds; rename it")
    }
    match memories.as_slice() {
        [] => bail!("module has no memory: there is nothing to split (multimem needs exactly one 32-bit memory)"),
        [(imported, ty)] => {
            if ty.memory64 {
                bail!("memory 0 is a 64-bit memory (memory64), which multimem does not support");
            }
            if ty.page_size_log2.is_some_and(|p| p != 16) {
                bail!("memory 0 uses a custom page size, which multimem does not support");
            }
            Ok(InputMemory { imported: *imported, shared: ty.shared, initial: ty.initial, maximum: ty.maximum })
        }
        more => bail!("module already has {} memories: multimem needs exactly one", more.len()),
    }
}
