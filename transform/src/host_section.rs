//! The host interface, written into the output as a JSON custom section
//! ([`HOST_SECTION`]) so that a host holding only a compiled module (a
//! JavaScript `WebAssembly.Module` cannot tell a memory import's limits)
//! knows which memories to create, what to call once and what to carry
//! from one instance to the next.
//!
//! A host that instantiates per proof carries the exported tables the module
//! defines: all of an `externref` table (wasm-bindgen keeps JavaScript objects
//! in one), and of a `funcref` table only the entries the host put there
//! itself (emscripten's `addFunction`): each instance's element segments fill
//! its own table, and a function of a dropped instance must not outlive it.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use walrus::{AbstractHeapType, ExportItem, HeapType, MemoryId, Module, TableId};

use crate::abi::{EXPORT_GLOBAL_PREFIX, EXPORT_INIT_PERSISTENT, HOST_SECTION};
use crate::Layout;

/// What the [`HOST_SECTION`] custom section records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSection {
    pub split: u32,
    pub form: String,
    /// Whether both memories are shared (threads).
    pub shared: bool,
    pub persistent: MemorySpec,
    pub ephemeral: MemorySpec,
    /// Export to call once, on the first instance, before any other (`--import-persistent`).
    pub init: Option<String>,
    /// Exported mutable globals to carry from instance to instance.
    pub globals: Vec<String>,
    /// Exported tables the module defines, to carry from instance to instance.
    pub tables: Vec<TableSpec>,
}

/// An exported table the module defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub export: String,
    /// `externref`, `funcref` or another reference type as wasmprinter names it.
    pub element: String,
}

/// One memory as the module declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemorySpec {
    /// `[module, name]` when the host supplies it.
    pub import: Option<[String; 2]>,
    pub initial: u64,
    pub maximum: Option<u64>,
}

pub fn run(module: &mut Module, layout: &Layout) -> Result<HostSection> {
    let tables = carried_tables(module);
    let exports = |prefix: &str| -> Vec<String> { module.exports.iter().filter(|e| e.name.starts_with(prefix)).map(|e| e.name.clone()).collect() };
    let section = HostSection {
        split: layout.split,
        form: layout.form.name().to_string(),
        shared: layout.shared,
        persistent: memory(module, layout.persistent),
        ephemeral: memory(module, layout.ephemeral),
        init: exports(EXPORT_INIT_PERSISTENT).into_iter().next(),
        globals: exports(EXPORT_GLOBAL_PREFIX),
        tables,
    };
    module.customs.add(walrus::RawCustomSection { name: HOST_SECTION.to_string(), data: serde_json::to_vec(&section)? });
    Ok(section)
}

/// Reads the host section of a transformed module.
pub fn read(wasm: &[u8]) -> Option<HostSection> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(s)) = payload {
            if s.name() == HOST_SECTION {
                return serde_json::from_slice(s.data()).ok();
            }
        }
    }
    None
}

fn memory(module: &Module, id: MemoryId) -> MemorySpec {
    let memory = module.memories.get(id);
    let import = memory.import.map(|i| {
        let import = module.imports.get(i);
        [import.module.clone(), import.name.clone()]
    });
    MemorySpec { import, initial: memory.initial, maximum: memory.maximum }
}

/// The exported tables the module defines (each under its first export name).
fn carried_tables(module: &Module) -> Vec<TableSpec> {
    let mut tables: Vec<(TableId, TableSpec)> = Vec::new();
    for export in module.exports.iter() {
        let ExportItem::Table(id) = export.item else { continue };
        let table = module.tables.get(id);
        if table.import.is_some() || tables.iter().any(|(t, _)| *t == id) {
            continue;
        }
        let element = match table.element_ty.heap_type {
            HeapType::Abstract(AbstractHeapType::Extern) => "externref".to_string(),
            HeapType::Abstract(AbstractHeapType::Func) => "funcref".to_string(),
            other => format!("{other:?}").to_lowercase(),
        };
        tables.push((id, TableSpec { export: export.name.clone(), element }));
    }
    tables.into_iter().map(|(_, spec)| spec).collect()
}
