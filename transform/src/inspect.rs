//! `multimem inspect`: what a module is made of, and whether it can be transformed.
//!
//! Reads the module with wasmparser only, so it also describes modules that
//! multimem refuses.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Result};
use serde::Serialize;
use wasmparser::{
    DataKind, ExternalKind, KnownCustom, MemArg, Name, Operator, Parser, Payload, TypeRef,
};

#[derive(Debug, Default, Serialize)]
pub struct Facts {
    pub bytes: usize,
    pub memories: Vec<MemoryFacts>,
    /// Proposals the module uses beyond the MVP.
    pub features: BTreeSet<&'static str>,
    /// Memory instructions: kind -> memory index -> count.
    pub memory_instructions: BTreeMap<&'static str, BTreeMap<u32, u64>>,
    pub functions_imported: u32,
    pub functions_defined: u32,
    pub globals: u32,
    pub stack_pointer: Option<GlobalFacts>,
    pub data_segments: Vec<DataFacts>,
    pub start_function: Option<u32>,
    /// The split, when the module was transformed by multimem.
    pub transformed_split: Option<u32>,
    /// The form (portable or view), when the module was transformed by multimem.
    pub transformed_form: Option<&'static str>,
    pub transformable: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
    /// The allocator routing would wrap, and why (see [`crate::find_allocator`]).
    pub allocator: crate::find_allocator::Found,
    /// Whether `multimem transform` routes the allocator; why not, when it does not.
    pub routing: Routing,
}

/// Whether a module's allocator can be routed.
#[derive(Debug, Default, Serialize)]
pub struct Routing {
    pub routable: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MemoryFacts {
    pub index: u32,
    pub imported: Option<String>,
    pub shared: bool,
    pub memory64: bool,
    pub initial_pages: u64,
    pub maximum_pages: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct GlobalFacts {
    pub index: u32,
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DataFacts {
    pub index: u32,
    pub active: bool,
    pub memory: Option<u32>,
    pub bytes: usize,
}

/// Describes `wasm`. Errors only when it is not a readable core module.
pub fn run(wasm: &[u8]) -> Result<Facts> {
    let mut facts = Facts { bytes: wasm.len(), ..Facts::default() };
    let mut mutable_i32_globals = Vec::new();
    let mut global_names = BTreeMap::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| anyhow!("malformed module: {e}"))?;
        match payload {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err(anyhow!("this is a component, not a core module"));
            }
            Payload::TypeSection(reader) => {
                for group in reader.into_iter_err_on_gc_types() {
                    let ty = group.map_err(|e| anyhow!("type section: {e}"))?;
                    if ty.results().len() > 1 {
                        facts.features.insert("multi_value");
                    }
                    if ty.params().iter().chain(ty.results()).any(|t| *t == wasmparser::ValType::V128) {
                        facts.features.insert("simd");
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => facts.functions_imported += 1,
                        TypeRef::Memory(ty) => add_memory(&mut facts, ty, Some(format!("{}.{}", import.module, import.name))),
                        TypeRef::Global(ty) => {
                            if ty.mutable {
                                facts.features.insert("mutable_global");
                            }
                            facts.globals += 1;
                        }
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => facts.functions_defined += reader.count(),
            Payload::MemorySection(reader) => {
                for ty in reader {
                    add_memory(&mut facts, ty?, None);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global?;
                    if global.ty.mutable && global.ty.content_type == wasmparser::ValType::I32 {
                        mutable_i32_globals.push(facts.globals);
                    }
                    facts.globals += 1;
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    if export?.kind == ExternalKind::Global {
                        facts.features.insert("mutable_global");
                    }
                }
            }
            Payload::StartSection { func, .. } => facts.start_function = Some(func),
            Payload::DataSection(reader) => {
                for (index, data) in reader.into_iter().enumerate() {
                    let data = data?;
                    let (active, memory) = match data.kind {
                        DataKind::Active { memory_index, .. } => (true, Some(memory_index)),
                        DataKind::Passive => {
                            facts.features.insert("bulk_memory");
                            (false, None)
                        }
                    };
                    facts.data_segments.push(DataFacts { index: index as u32, active, memory, bytes: data.data.len() });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader()?;
                while !reader.eof() {
                    let op = reader.read()?;
                    let (proposal, name, memories) = classify(&op);
                    if proposal != "mvp" {
                        facts.features.insert(proposal);
                    }
                    if let Some(kind) = memory_kind(name) {
                        // A copy within one memory counts once for it.
                        let [first, second] = memories;
                        let second = second.filter(|m| Some(*m) != first);
                        for memory in [first, second].into_iter().flatten() {
                            *facts.memory_instructions.entry(kind).or_default().entry(memory).or_default() += 1;
                        }
                    }
                }
            }
            Payload::CustomSection(s) => match s.as_known() {
                KnownCustom::Name(names) => {
                    for name in names.into_iter().flatten() {
                        if let Name::Global(map) = name {
                            for naming in map.into_iter().flatten() {
                                global_names.insert(naming.index, naming.name.to_string());
                            }
                        }
                    }
                }
                _ if s.name() == crate::abi::MARKER_SECTION => {
                    let marker = crate::marker(wasm);
                    facts.transformed_split = marker.map(|m| m.split);
                    facts.transformed_form = marker.map(|m| m.form.name());
                }
                _ => {}
            },
            _ => {}
        }
    }
    if facts.memories.len() > 1 {
        facts.features.insert("multi_memory");
    }
    let sp = global_names
        .iter()
        .find(|(_, n)| n.as_str() == "__stack_pointer")
        .map(|(i, _)| *i)
        .or_else(|| mutable_i32_globals.first().copied());
    facts.stack_pointer = sp.map(|index| GlobalFacts { index, name: global_names.get(&index).cloned() });
    let verdict = crate::check(wasm).and_then(|_| crate::validate(wasm));
    facts.transformable = verdict.is_ok();
    facts.reason = verdict.err().map(|e| format!("{e:#}"));
    facts.allocator = crate::find_allocator::find(&crate::find_allocator::funcs_of_wasm(wasm)?, &[])?;
    let sdk = imports_sdk(wasm);
    let shared = facts.memories.first().is_some_and(|m| m.shared);
    facts.routing = match (sdk, shared, facts.allocator.family) {
        (true, _, _) => Routing { routable: false, reason: Some("links the multimem guest SDK, which routes its own allocations".into()) },
        (_, true, _) => Routing { routable: false, reason: Some("memory 0 is shared (threaded): routing is not safe under concurrent calls yet".into()) },
        (_, _, None) => Routing { routable: false, reason: Some(crate::route::refusal(&facts.allocator)) },
        _ => Routing { routable: true, reason: None },
    };
    Ok(facts)
}

fn add_memory(facts: &mut Facts, ty: wasmparser::MemoryType, imported: Option<String>) {
    if ty.shared {
        facts.features.insert("threads");
    }
    if ty.memory64 {
        facts.features.insert("memory64");
    }
    facts.memories.push(MemoryFacts {
        index: facts.memories.len() as u32,
        imported,
        shared: ty.shared,
        memory64: ty.memory64,
        initial_pages: ty.initial,
        maximum_pages: ty.maximum,
    });
}

/// Which kind of memory instruction an operator is, from its name.
fn memory_kind(op: &str) -> Option<&'static str> {
    Some(match op {
        "MemorySize" => "size",
        "MemoryGrow" => "grow",
        "MemoryCopy" => "copy",
        "MemoryFill" => "fill",
        "MemoryInit" => "init",
        "MemoryDiscard" => "discard",
        "MemoryAtomicNotify" => "atomic_notify",
        "MemoryAtomicWait32" | "MemoryAtomicWait64" => "atomic_wait",
        _ if op.contains("Cmpxchg") => "atomic_cmpxchg",
        _ if op.contains("AtomicRmw") => "atomic_rmw",
        _ if op.contains("AtomicLoad") => "atomic_load",
        _ if op.contains("AtomicStore") => "atomic_store",
        _ if op.starts_with("V128") && op.contains("Store") => "simd_store",
        _ if op.starts_with("V128") && op.contains("Load") => "simd_load",
        _ if op.contains("Load") => "load",
        _ if op.contains("Store") => "store",
        _ => return None,
    })
}

// Autoref specialisation: pick out memory indices among an operator's fields.
struct Field<'a, T>(&'a str, &'a T);
trait MemoryField {
    fn memory(&self) -> Option<u32>;
}
impl MemoryField for Field<'_, MemArg> {
    fn memory(&self) -> Option<u32> {
        match self.1.target {
            wasmparser::MemArgTarget::Memory(m) => Some(m),
            _ => None,
        }
    }
}
impl MemoryField for Field<'_, u32> {
    fn memory(&self) -> Option<u32> {
        matches!(self.0, "mem" | "dst_mem" | "src_mem").then_some(*self.1)
    }
}
trait OtherField {
    fn memory(&self) -> Option<u32>;
}
impl<T> OtherField for &Field<'_, T> {
    fn memory(&self) -> Option<u32> {
        None
    }
}

macro_rules! define_classify {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// (proposal, operator name, memories it touches)
        #[allow(unused_variables, unused_mut, unused_assignments)]
        fn classify(op: &Operator<'_>) -> (&'static str, &'static str, [Option<u32>; 2]) {
            match op {
                $(
                    Operator::$op $({ $($arg),* })? => {
                        let mut memories = [None, None];
                        let mut n = 0usize;
                        $($(
                            if let Some(m) = (&Field(stringify!($arg), $arg)).memory() {
                                if n < 2 { memories[n] = Some(m); }
                                n += 1;
                            }
                        )*)?
                        (stringify!($proposal), stringify!($op), memories)
                    }
                )*
                _ => ("unknown", "unknown", [None, None]),
            }
        }
    };
}
wasmparser::for_each_operator!(define_classify);

impl Facts {
    /// A short report a person can read.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "size: {} bytes", self.bytes);
        for m in &self.memories {
            let _ = writeln!(
                s,
                "memory {}: {}{}{} pages {}..{}",
                m.index,
                m.imported.as_ref().map_or("defined".to_string(), |i| format!("imported from {i}")),
                if m.shared { ", shared" } else { "" },
                if m.memory64 { ", 64-bit" } else { "" },
                m.initial_pages,
                m.maximum_pages.map_or("unbounded".to_string(), |p| p.to_string()),
            );
        }
        let features: Vec<_> = self.features.iter().copied().collect();
        let _ = writeln!(s, "features: {}", if features.is_empty() { "mvp".to_string() } else { features.join(", ") });
        let _ = writeln!(s, "functions: {} imported, {} defined; globals: {}", self.functions_imported, self.functions_defined, self.globals);
        let _ = writeln!(s, "memory instructions:");
        for (kind, per_memory) in &self.memory_instructions {
            let cells: Vec<String> = per_memory.iter().map(|(m, c)| format!("memory {m}: {c}")).collect();
            let _ = writeln!(s, "  {kind:<15} {}", cells.join(", "));
        }
        match &self.stack_pointer {
            Some(g) => {
                let _ = writeln!(s, "stack pointer: global {}{}", g.index, g.name.as_ref().map_or(String::new(), |n| format!(" ({n})")));
            }
            None => s.push_str("stack pointer: none found\n"),
        }
        let active = self.data_segments.iter().filter(|d| d.active).count();
        let bytes: usize = self.data_segments.iter().map(|d| d.bytes).sum();
        let _ = writeln!(s, "data segments: {active} active, {} passive, {bytes} bytes", self.data_segments.len() - active);
        let _ = writeln!(s, "start function: {}", self.start_function.map_or("none".to_string(), |f| f.to_string()));
        if let Some(split) = self.transformed_split {
            let form = self.transformed_form.unwrap_or("portable");
            let _ = writeln!(s, "transformed by multimem: split {split:#x}, {form} form");
        }
        let _ = writeln!(s, "allocator: {}", self.allocator.summary());
        for reason in &self.allocator.reasons {
            let _ = writeln!(s, "  {reason}");
        }
        match &self.routing.reason {
            None => s.push_str("routing: yes\n"),
            Some(r) => {
                let _ = writeln!(s, "routing: no: {r}");
            }
        }
        match &self.reason {
            None => s.push_str("transformable: yes\n"),
            Some(r) => {
                let _ = writeln!(s, "transformable: no: {r}");
            }
        }
        s
    }
}

fn imports_sdk(wasm: &[u8]) -> bool {
    Parser::new(0).parse_all(wasm).any(|p| match p {
        Ok(Payload::ImportSection(reader)) => reader.into_imports().flatten().any(|i| i.module == crate::abi::IMPORT_MODULE),
        _ => false,
    })
}

/// Bytes of the code section: a module's size without custom sections
/// (DWARF, names), which a transform may drop or keep.
pub fn code_bytes(wasm: &[u8]) -> usize {
    Parser::new(0)
        .parse_all(wasm)
        .find_map(|p| match p {
            Ok(Payload::CodeSectionStart { size, .. }) => Some(size as usize),
            _ => None,
        })
        .unwrap_or(0)
}
