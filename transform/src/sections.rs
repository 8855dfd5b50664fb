//! Edits of a module's memories and data that leave its code alone: what a
//! host does when it loads a transformed module (cap a memory, import memory
//! 0, take memory 0's data out to apply once). Working section by section,
//! with the code copied as bytes, loading a prover builds no walrus module:
//! its heap would be most of the memory a host holds after loading.

use anyhow::{bail, ensure, Context, Result};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{DataSection, ExportKind, ExportSection, ImportSection, MemorySection, MemoryType, RawSection};
use wasmparser::{DataKind, Operator, Parser, Payload, TypeRef};

/// What to change.
pub(crate) struct Edits<'a> {
    /// Changes memory `index`'s type (indices count imported memories first).
    pub memory: &'a mut dyn FnMut(u32, &mut MemoryType) -> Result<()>,
    /// Memory 0, if the module defines it, becomes imported as `(module, name)`.
    pub import_memory0: Option<(&'a str, &'a str)>,
    /// Memory 0, if the module imports it, becomes defined (the first defined memory).
    pub define_memory0: bool,
    /// The start function, if any, becomes an export of this name instead.
    pub start_as_export: Option<&'a str>,
    /// Memory 0's active data segments become empty passive ones; their bytes are returned.
    pub take_data: bool,
    /// Exports of memory 0 but `keep` name memory `to` instead: `Some((to, keep))`.
    pub memory0_exports_to: Option<(u32, &'a str)>,
}

/// What the module looked like.
#[derive(Default)]
pub(crate) struct Facts {
    /// Memory 0's import, when it was imported.
    pub memory0_import: Option<(String, String)>,
    pub memories: Vec<MemoryType>,
    pub imported_memories: usize,
    /// The start function's index.
    pub start: Option<u32>,
    pub exports: Vec<String>,
    /// Exported memories: (name, index).
    pub memory_exports: Vec<(String, u32)>,
}

/// Reads what [`rewrite`] needs to know first.
pub(crate) fn facts(wasm: &[u8]) -> Result<Facts> {
    let mut facts = Facts::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if let TypeRef::Memory(ty) = import.ty {
                        if facts.memories.is_empty() {
                            facts.memory0_import = Some((import.module.to_string(), import.name.to_string()));
                        }
                        facts.memories.push(encoded(ty));
                        facts.imported_memories += 1;
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for ty in reader {
                    facts.memories.push(encoded(ty?));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == wasmparser::ExternalKind::Memory {
                        facts.memory_exports.push((export.name.to_string(), export.index));
                    }
                    facts.exports.push(export.name.to_string());
                }
            }
            Payload::StartSection { func, .. } => facts.start = Some(func),
            _ => {}
        }
    }
    Ok(facts)
}

fn encoded(ty: wasmparser::MemoryType) -> MemoryType {
    MemoryType { minimum: ty.initial, maximum: ty.maximum, memory64: ty.memory64, shared: ty.shared, page_size_log2: ty.page_size_log2 }
}

/// `wasm` with `edits` applied, and memory 0's initial data if taken: (offset, bytes).
pub(crate) fn rewrite(wasm: &[u8], edits: Edits<'_>) -> Result<(Vec<u8>, Vec<(u32, Vec<u8>)>)> {
    let Edits { memory, import_memory0, define_memory0, start_as_export, take_data, memory0_exports_to } = edits;
    let before = facts(wasm)?;
    // Memory 0 moves to the imports only if the module defines it, and back only if it imports it.
    let add_import = import_memory0.filter(|_| before.memory0_import.is_none()).map(|name| (name, before.memories[0]));
    let define = (define_memory0 && before.memory0_import.is_some()).then(|| before.memories[0]);
    ensure!(add_import.is_none() || define.is_none(), "memory 0 cannot be both imported and defined");
    let start_export = start_as_export.zip(before.start);
    let mut exports_written = false;
    let mut out = wasm_encoder::Module::new();
    let mut data = Vec::new();
    let mut imports_written = false;
    let mut defined_memory0 = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        let Some((id, range)) = payload.as_section() else { continue };
        // The import section follows the type section (custom sections aside): write it
        // where it is, or where it would be when the module has none and gains one.
        if !imports_written && !matches!(payload, Payload::CustomSection(_) | Payload::TypeSection(_)) {
            imports_written = true;
            let reader = if let Payload::ImportSection(reader) = &payload { Some(reader.clone()) } else { None };
            write_imports(&mut out, reader, add_import, define.is_some(), memory)?;
            if matches!(payload, Payload::ImportSection(_)) {
                continue;
            }
        }
        // The export section (id 7) comes before the start section (8) and everything after it.
        if let (false, Some((name, func))) = (exports_written, start_export) {
            if id >= 8 && id != 0 {
                exports_written = true;
                let mut section = ExportSection::new();
                section.export(name, ExportKind::Func, func);
                out.section(&section);
            }
        }
        match payload {
            Payload::MemorySection(reader) => {
                let mut section = MemorySection::new();
                if let Some(mut ty) = define {
                    memory(0, &mut ty)?;
                    section.memory(ty);
                    defined_memory0 = true;
                }
                for (i, ty) in reader.into_iter().enumerate() {
                    // Moving memory 0 between imports and definitions keeps every index.
                    let index = before.imported_memories as u32 + i as u32;
                    if index == 0 && add_import.is_some() {
                        continue; // imported now
                    }
                    let mut ty = encoded(ty?);
                    memory(index, &mut ty)?;
                    section.memory(ty);
                }
                out.section(&section);
            }
            Payload::DataSection(reader) if take_data => {
                let mut section = DataSection::new();
                for segment in reader {
                    let segment = segment?;
                    match segment.kind {
                        DataKind::Active { memory_index: 0, offset_expr } => {
                            data.push((constant_offset(&offset_expr)?, segment.data.to_vec()));
                            section.passive([]);
                        }
                        DataKind::Active { memory_index, .. } => bail!("data segment for memory {memory_index} in a transformed module"),
                        DataKind::Passive => {
                            section.passive(segment.data.iter().copied());
                        }
                    }
                }
                out.section(&section);
            }
            Payload::ExportSection(reader) if start_export.is_some() || memory0_exports_to.is_some() => {
                exports_written = true;
                let mut section = ExportSection::new();
                for export in reader {
                    let export = export?;
                    let index = match memory0_exports_to {
                        Some((to, keep)) if export.kind == wasmparser::ExternalKind::Memory && export.index == 0 && export.name != keep => to,
                        _ => export.index,
                    };
                    section.export(export.name, RoundtripReencoder.export_kind(export.kind)?, index);
                }
                if let Some((name, func)) = start_export {
                    section.export(name, ExportKind::Func, func);
                }
                out.section(&section);
            }
            Payload::StartSection { .. } if start_export.is_some() => {}
            _ => {
                out.section(&RawSection { id, data: &wasm[range.start as usize..range.end as usize] });
            }
        }
    }
    ensure!(define.is_none() || defined_memory0, "a module that imports memory 0 and defines no memory cannot define it instead");
    Ok((out.finish(), data))
}

/// The import section with memory types edited, and memory 0 added if it moves
/// here or left out if it moves to the memory section.
fn write_imports(
    out: &mut wasm_encoder::Module,
    reader: Option<wasmparser::ImportSectionReader<'_>>,
    add: Option<((&str, &str), MemoryType)>,
    drop_memory0: bool,
    memory: &mut dyn FnMut(u32, &mut MemoryType) -> Result<()>,
) -> Result<()> {
    let mut section = ImportSection::new();
    let mut memories = 0;
    if let Some(((module, name), mut ty)) = add {
        // Memory 0 is the first memory: it comes before the other imports'.
        memory(0, &mut ty)?;
        section.import(module, name, ty);
        memories += 1;
    }
    for import in reader.into_iter().flat_map(|r| r.into_imports()) {
        let import = import?;
        let ty = match import.ty {
            TypeRef::Memory(_) if drop_memory0 && memories == 0 => {
                memories += 1; // defined in the memory section now
                continue;
            }
            TypeRef::Memory(ty) => {
                let mut ty = encoded(ty);
                memory(memories, &mut ty)?;
                memories += 1;
                wasm_encoder::EntityType::Memory(ty)
            }
            other => RoundtripReencoder.entity_type(other).context("re-encoding an import")?,
        };
        section.import(import.module, import.name, ty);
    }
    if !section.is_empty() {
        out.section(&section);
    }
    Ok(())
}

fn constant_offset(expr: &wasmparser::ConstExpr<'_>) -> Result<u32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read()?, ops.read()?) {
        (Operator::I32Const { value }, Operator::End) => Ok(value as u32),
        _ => bail!("data segment offset is not a constant; the recreate strategy needs constant offsets"),
    }
}

/// Whether the module has an export named `name`.
pub(crate) fn exports(facts: &Facts, name: &str) -> bool {
    facts.exports.iter().any(|e| e == name)
}

/// Lowers memory `index`'s maximum to `max_pages` (never raises it).
pub(crate) fn cap(ty: &mut MemoryType, max_pages: u64) {
    ty.maximum = Some(ty.maximum.map_or(max_pages, |m| m.min(max_pages)));
}

/// Checks `wasm` has memory `index`, for a clear error before rewriting.
pub(crate) fn has_memory(facts: &Facts, index: usize) -> Result<()> {
    ensure!(index < facts.memories.len(), "the module has no memory {index}");
    Ok(())
}

