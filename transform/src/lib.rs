//! Rewrite a single-memory WebAssembly module into multimem's two-memory form.
//!
//! Memory 0 stays the *persistent* memory (statics, setup state, the ordinary
//! heap). Memory 1 is added as the *ephemeral* memory a host drops after each
//! proof. Pointers carry the memory in their value: with split address `S`, a
//! pointer `p < S` addresses memory 0 at `p`, a pointer `p >= S` addresses
//! memory 1 at `p - S`. Every instruction that touches memory 0 is rewritten to
//! dispatch on that tag, unless the tag is known: stack and static addresses
//! stay on memory 0, and functions and loops get one copy per combination of
//! their pointers' tags, chosen once on entry. `memory.size`/`memory.grow` of
//! memory 0 stay (they are the persistent allocator's view), except that a
//! grow past the split fails: memory 0 keeps its declared limits, so the
//! output accepts every memory the input accepted (a drop-in for its glue).
//!
//! That is the portable [`Form`]. The [`Form::View`] form is for a host that
//! builds memory 1 as a view whose range below the split maps memory 0's
//! pages: every access then goes to memory 1 at its own address, with no
//! dispatch at all (see multimem-runtime's view strategies).
//!
//! ```
//! let wasm = wat::parse_str(r#"(module (memory 1)
//!     (func (export "get") (param i32) (result i32) local.get 0 i32.load))"#).unwrap();
//! let out = multimem_transform::transform(&wasm, &multimem_transform::Options::default()).unwrap();
//! let facts = multimem_transform::inspect::run(&out).unwrap();
//! assert_eq!(facts.memories.len(), 2);
//! ```

pub mod abi;
mod add_memory;
mod call_order;
mod check;
mod copy_funcs;
mod dispatch;
pub mod ephemeral_heap;
pub mod escapes;
mod export_host;
pub mod find_allocator;
pub mod fork_exports;
mod globals;
pub mod host_section;
mod import_memories;
pub mod inspect;
mod instrs;
pub mod limit_memory;
mod operands;
#[cfg(feature = "opt")]
pub mod opt;
pub mod persistent_import;
pub mod persistent_grow;
mod provenance;
pub mod route;
mod sections;
mod validate;
mod version;
mod view;
mod view_bounds;

use anyhow::{Context, Result};

pub use check::check;
pub use dispatch::{DispatchStats, StoreAnchor, COUNT_EXPORT_PREFIX};
pub use validate::validate;

/// The default split address: pointers at or above it live in memory 1.
pub const DEFAULT_SPLIT: u32 = 0x8000_0000;
/// Size of a wasm page, the unit of memory sizes and of the split.
pub const PAGE: u64 = 65536;

/// How the rewritten module reaches its two memories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Form {
    /// Accesses dispatch on the pointer's tag; runs on any engine with multi-memory.
    #[default]
    Portable,
    /// Every access goes to memory 1 at the pointer's own address. Memory 1 is
    /// a 4 GiB view whose range below the split must alias memory 0: only a
    /// host that builds it so (multimem-runtime's view strategies) can run it.
    View,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Portable => "portable",
            Form::View => "view",
        }
    }
}

impl std::str::FromStr for Form {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "portable" => Ok(Form::Portable),
            "view" => Ok(Form::View),
            _ => Err(format!("unknown form `{s}` (expected portable or view)")),
        }
    }
}

/// What [`transform`] should do.
#[derive(Clone, Debug)]
pub struct Options {
    /// Split address `S`; a multiple of 64 KiB strictly between 0 and 2^32.
    pub split: u32,
    /// Dispatch per access (portable) or address a host-built view (view).
    pub form: Form,
    /// Where a store parks its value before dispatching (see [`StoreAnchor`]).
    /// `None` picks the fastest, [`StoreAnchor::Global`].
    pub store_anchor: Option<StoreAnchor>,
    /// Run binaryen with this optimisation level (0–4, or `s`/`z`) after the rewrite.
    pub opt: Option<String>,
    /// Count executed memory-0 accesses, dispatched and direct, in exported i64
    /// globals `multimem.count.dispatched` and `multimem.count.direct` (portable
    /// form; for measuring, the counting costs time).
    pub count_accesses: bool,
    /// Version functions and loops on their pointers' tags (portable form):
    /// faster proofs for a larger module.
    pub version: bool,
    /// Import memory 0 from a host that keeps it across instances, and apply
    /// its data and start function once, through `multimem.init_persistent`
    /// (portable form; for a host that instantiates per proof, such as the JS host).
    pub import_persistent: Option<Import>,
    /// Import memory 1 instead of defining it, so a host hands each proof a
    /// fresh one (portable form; needs memory 0 imported).
    pub import_ephemeral: Option<Import>,
    /// Whether the module's own allocator is routed to memory 1 during proofs.
    pub route: Route,
    /// The allocator's entry points by hand (role, function name or index), for stripped modules.
    pub allocator: Vec<(find_allocator::Role, String)>,
    /// Record stores of ephemeral pointers into memory 0 (see [`escapes`]).
    pub check_escapes: bool,
}

/// Whether [`transform`] routes the module's allocator (see [`route`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Route {
    /// Leave the allocator alone: only a guest that links the SDK allocates in memory 1.
    #[default]
    Off,
    /// Route the allocator found (or named); refuse a module where none is found.
    /// A module that links the guest SDK routes itself and is left alone.
    On,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            split: DEFAULT_SPLIT,
            form: Form::Portable,
            store_anchor: None,
            opt: None,
            count_accesses: false,
            version: true,
            import_persistent: None,
            import_ephemeral: None,
            route: Route::Off,
            allocator: Vec::new(),
            check_escapes: false,
        }
    }
}

/// Where a memory a host supplies is imported from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Import {
    /// `multimem.persistent_memory` for memory 0 (or its import as it is);
    /// for memory 1 `ephemeral_memory` in memory 0's import module.
    #[default]
    Default,
    As { module: String, name: String },
}

impl Import {
    pub(crate) fn name_or(&self, module: &str, name: &str) -> (String, String) {
        match self {
            Import::Default => (module.to_string(), name.to_string()),
            Import::As { module, name } => (module.clone(), name.clone()),
        }
    }
}

impl std::str::FromStr for Import {
    type Err = String;
    /// `MODULE.NAME` (split at the first dot).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('.') {
            Some((module, name)) if !module.is_empty() && !name.is_empty() => Ok(Import::As { module: module.to_string(), name: name.to_string() }),
            _ => Err(format!("{s:?}: expected MODULE.NAME")),
        }
    }
}

/// The two memories of a transformed module.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub split: u32,
    pub form: Form,
    pub persistent: walrus::MemoryId,
    pub ephemeral: walrus::MemoryId,
    pub shared: bool,
}

/// What a transform did, for reports.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub split: u32,
    pub form: &'static str,
    pub shared: bool,
    pub store_anchor: String,
    pub rewritten: DispatchStats,
    pub guest_imports_resolved: Vec<String>,
    pub stack_pointer: Option<u32>,
    pub exported_globals: usize,
    /// `memory.grow` instructions of memory 0 that now stop at the split.
    pub checked_grows: u64,
    pub host: Option<host_section::HostSection>,
    /// What routing found and did, when it ran.
    pub routed: Option<route::Routed>,
    /// Stores instrumented by the escape check.
    pub escape_sites: usize,
    pub input_bytes: usize,
    pub output_bytes: usize,
}

/// Checks that `split` is usable.
pub fn check_split(split: u64) -> Result<u32> {
    anyhow::ensure!(
        split > 0 && split < (1 << 32) && split % PAGE == 0,
        "split {split:#x} must be a multiple of 64 KiB (0x10000) between 0x10000 and 0xffff0000"
    );
    Ok(split as u32)
}

/// Transforms `wasm` and returns the validated output.
pub fn transform(wasm: &[u8], options: &Options) -> Result<Vec<u8>> {
    Ok(transform_with_report(wasm, options)?.0)
}

/// Transforms `wasm`, returning the validated output and what was done.
pub fn transform_with_report(wasm: &[u8], options: &Options) -> Result<(Vec<u8>, Report)> {
    check_split(options.split as u64)?;
    check::check(wasm)?;
    let mut module = parse(wasm)?;
    let mut report = run(&mut module, options)?;
    let mut out = module.emit_wasm();
    // Freed here, not on a thread of its own that overlaps the caller's next
    // step: a host that compiles right after held both (halo2, recreate: 31 MiB
    // more RSS after load with memory purged promptly), for no measurable time saved.
    drop(module);
    if let Some(level) = &options.opt {
        out = optimize(&out, level, report.shared)?;
    }
    validate::validate(&out).context("internal error: the transformed module does not validate (please report this with the input module)")?;
    report.input_bytes = wasm.len();
    report.output_bytes = out.len();
    Ok((out, report))
}

/// Runs every pass on an already parsed module (no validation, no binaryen).
pub fn run(module: &mut walrus::Module, options: &Options) -> Result<Report> {
    let layout = add_memory::run(module, options.split, options.form)?;
    let (proof_active, routed, escape_sites) = route_and_check(module, &layout, options)?;
    let anchor = options.store_anchor.unwrap_or(StoreAnchor::Global);
    let rewritten = match options.form {
        Form::Portable => dispatch::run(module, &layout, anchor, options)?,
        Form::View => view::run(module, &layout)?,
    };
    let host = export_host::run(module, &layout, proof_active)?;
    let guest_imports_resolved = abi::resolve_guest_imports(module, &layout, host.proof_active)?;
    let checked_grows = persistent_grow::run(module, &layout)?;
    import_memories::run(module, &layout, options)?;
    let section = host_section::run(module, &layout)?;
    add_marker(module, &layout);
    Ok(Report {
        split: layout.split,
        form: layout.form.name(),
        shared: layout.shared,
        store_anchor: if layout.form == Form::Portable { format!("{anchor:?}").to_lowercase() } else { "none".to_string() },
        rewritten,
        guest_imports_resolved,
        stack_pointer: host.stack_pointer_index,
        exported_globals: host.exported_globals,
        checked_grows,
        host: Some(section),
        routed,
        escape_sites,
        ..Report::default()
    })
}

/// Routing and the escape check, before the accesses are rewritten (the
/// wrappers' and the checks' own accesses dispatch like the module's).
fn route_and_check(module: &mut walrus::Module, layout: &Layout, options: &Options) -> Result<(Option<walrus::GlobalId>, Option<route::Routed>, usize)> {
    let routing = options.route == Route::On || !options.allocator.is_empty();
    if !routing && !options.check_escapes {
        return Ok((None, None, 0));
    }
    // The view form's memory 1 maps memory 0 below the split: no room for the heap's header there.
    anyhow::ensure!(layout.form == Form::Portable, "routing and the escape check need the portable form (pass --no-route with --form view)");
    let sdk = module.imports.iter().any(|i| i.module == abi::IMPORT_MODULE);
    let found = if routing && !(sdk && options.allocator.is_empty()) {
        route::check(module, layout)?;
        let found = find_allocator::find(&find_allocator::funcs_of_module(module), &options.allocator)?;
        anyhow::ensure!(found.family.is_some(), "{}", route::refusal(&found));
        Some(found)
    } else {
        None
    };
    let original: std::collections::HashSet<walrus::FunctionId> = module.funcs.iter_local().map(|(id, _)| id).collect();
    let proof_active = export_host::proof_flag(module);
    let (flags, heap) = route::prepare(module, layout, proof_active)?;
    let routed = match found {
        Some(found) => Some(route::run(module, layout, found, flags, heap)?),
        None => None,
    };
    let escape_sites = if options.check_escapes {
        // The module's own code: not the heap, not the wrappers, not the allocator's original bodies.
        let ids: Vec<walrus::FunctionId> = module.funcs.iter().map(|f| f.id()).collect();
        let mut skip: std::collections::HashSet<walrus::FunctionId> = module.funcs.iter_local().map(|(id, _)| id).filter(|id| !original.contains(id)).collect();
        skip.extend(routed.iter().flat_map(|r| &r.allocator.entries).filter_map(|e| ids.get(e.index as usize).copied()));
        escapes::run(module, layout.persistent, heap.escape, &skip)?
    } else {
        0
    };
    Ok((Some(proof_active), routed, escape_sites))
}

/// Parses with walrus, keeping names (they make traps readable).
pub fn parse(wasm: &[u8]) -> Result<walrus::Module> {
    let mut config = walrus::ModuleConfig::new();
    config.generate_producers_section(false);
    config.parse(wasm).map_err(|e| match validate::validate(wasm) {
        // The validator names the function and offset; walrus may not.
        Err(precise) => precise,
        Ok(()) => anyhow::anyhow!("invalid module: {}", one_line(&e)),
    })
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// Marks the output so that a second transform and the runtime can tell.
fn add_marker(module: &mut walrus::Module, layout: &Layout) {
    module.customs.add(walrus::RawCustomSection {
        name: abi::MARKER_SECTION.to_string(),
        data: format!("split={:#x} form={}", layout.split, layout.form.name()).into_bytes(),
    });
}

/// What the marker of a transformed module records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marker {
    pub split: u32,
    pub form: Form,
}

/// Reads the marker [`transform`] leaves, if `wasm` is a transformed module.
pub fn marker(wasm: &[u8]) -> Option<Marker> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CustomSection(s)) = payload {
            if s.name() == abi::MARKER_SECTION {
                return parse_marker(std::str::from_utf8(s.data()).ok()?);
            }
        }
    }
    None
}

fn parse_marker(text: &str) -> Option<Marker> {
    let mut marker = Marker { split: 0, form: Form::Portable };
    for field in text.split_whitespace() {
        match field.split_once('=')? {
            ("split", hex) => marker.split = u32::from_str_radix(hex.strip_prefix("0x")?, 16).ok()?,
            ("form", form) => marker.form = form.parse().ok()?,
            _ => {}
        }
    }
    (marker.split != 0).then_some(marker)
}

/// Reads the split recorded by [`transform`], if `wasm` is a transformed module.
pub fn transformed_split(wasm: &[u8]) -> Option<u32> {
    marker(wasm).map(|m| m.split)
}

#[cfg(feature = "opt")]
fn optimize(wasm: &[u8], level: &str, shared: bool) -> Result<Vec<u8>> {
    opt::run(wasm, level, shared)
}

#[cfg(not(feature = "opt"))]
fn optimize(_: &[u8], _: &str, _: bool) -> Result<Vec<u8>> {
    anyhow::bail!("--opt needs binaryen: this build of multimem has no `opt` feature")
}
