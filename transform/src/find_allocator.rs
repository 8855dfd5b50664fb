//! Finds a module's allocator entry points, for routing and for `inspect`.
//!
//! By name (the name section, legacy and v0 Rust names demangled, and the
//! exports), each checked against the signature its role has in wasm32:
//!
//! - Rust's allocator shims `__rust_alloc`, `__rust_dealloc`,
//!   `__rust_realloc`, `__rust_alloc_zeroed` (also `__rdl_*`/`__rg_*`);
//! - std's dlmalloc (the `dlmalloc` crate) entry points `malloc`, `free`,
//!   `realloc`, `memalign`, which take the allocator state first, for when
//!   LTO inlined the shims;
//! - C's `malloc`, `free`, `calloc`, `realloc`, `posix_memalign`,
//!   `aligned_alloc`, `memalign`, `malloc_usable_size` (wasi-libc,
//!   emscripten's `emscripten_builtin_*`, dlmalloc's `dl*`);
//! - in a module without names, the functions wasm-bindgen's exported
//!   `__wbindgen_malloc`/`__wbindgen_free`/`__wbindgen_realloc` call.
//!
//! Routing must see every function that takes a pointer back (free,
//! realloc): one that hands a memory-1 pointer to the original allocator
//! corrupts it. So the Rust shims are chosen only when nothing but them
//! calls into dlmalloc; otherwise dlmalloc's own entry points are.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// What an allocator entry point does, and so how its wrapper routes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Role {
    /// `(size, align) -> ptr`
    RustAlloc,
    /// `(size, align) -> ptr`, zeroed
    RustAllocZeroed,
    /// `(ptr, size, align)`
    RustDealloc,
    /// `(ptr, old_size, align, new_size) -> ptr`
    RustRealloc,
    /// `(size) -> ptr`
    Malloc,
    /// `(count, size) -> ptr`, zeroed
    Calloc,
    /// `(ptr)`
    Free,
    /// `(ptr, size) -> ptr`
    Realloc,
    /// `(out, align, size) -> errno`
    PosixMemalign,
    /// `(align, size) -> ptr`
    AlignedAlloc,
    /// `(align, size) -> ptr`
    Memalign,
    /// `(ptr) -> size`
    UsableSize,
    /// dlmalloc crate: `(state, size) -> ptr`
    DlMalloc,
    /// dlmalloc crate: `(state, ptr)`
    DlFree,
    /// dlmalloc crate: `(state, ptr, size) -> ptr`
    DlRealloc,
    /// dlmalloc crate: `(state, align, size) -> ptr`
    DlMemalign,
}

pub const ROLES: &[Role] = &[
    Role::RustAlloc,
    Role::RustAllocZeroed,
    Role::RustDealloc,
    Role::RustRealloc,
    Role::Malloc,
    Role::Calloc,
    Role::Free,
    Role::Realloc,
    Role::PosixMemalign,
    Role::AlignedAlloc,
    Role::Memalign,
    Role::UsableSize,
    Role::DlMalloc,
    Role::DlFree,
    Role::DlRealloc,
    Role::DlMemalign,
];

impl Role {
    /// The name `--allocator` takes.
    pub fn name(self) -> &'static str {
        match self {
            Role::RustAlloc => "__rust_alloc",
            Role::RustAllocZeroed => "__rust_alloc_zeroed",
            Role::RustDealloc => "__rust_dealloc",
            Role::RustRealloc => "__rust_realloc",
            Role::Malloc => "malloc",
            Role::Calloc => "calloc",
            Role::Free => "free",
            Role::Realloc => "realloc",
            Role::PosixMemalign => "posix_memalign",
            Role::AlignedAlloc => "aligned_alloc",
            Role::Memalign => "memalign",
            Role::UsableSize => "malloc_usable_size",
            Role::DlMalloc => "dlmalloc.malloc",
            Role::DlFree => "dlmalloc.free",
            Role::DlRealloc => "dlmalloc.realloc",
            Role::DlMemalign => "dlmalloc.memalign",
        }
    }

    /// Its wasm32 signature: parameters, `>`, results; `i` is i32.
    pub fn signature(self) -> &'static str {
        match self {
            Role::RustAlloc | Role::RustAllocZeroed => "ii>i",
            Role::RustDealloc => "iii>",
            Role::RustRealloc => "iiii>i",
            Role::Malloc | Role::UsableSize => "i>i",
            Role::Calloc | Role::Realloc | Role::AlignedAlloc | Role::Memalign => "ii>i",
            Role::Free => "i>",
            Role::PosixMemalign => "iii>i",
            Role::DlMalloc => "ii>i",
            Role::DlFree => "ii>",
            Role::DlRealloc | Role::DlMemalign => "iii>i",
        }
    }

    /// Whether `signature` fits the role: dlmalloc's entry points may have
    /// lost their state parameter to LTO (a single static allocator).
    pub fn accepts(self, signature: &str) -> bool {
        signature == self.signature() || (self.family() == Family::Dlmalloc && signature == &self.signature()[1..])
    }

    /// Parameters of the role itself, without dlmalloc's state.
    pub fn own_params(self) -> usize {
        let all = self.signature().find('>').unwrap_or(0);
        if self.family() == Family::Dlmalloc { all - 1 } else { all }
    }

    /// Whether it takes a pointer the allocator handed out.
    pub fn takes_pointer(self) -> bool {
        matches!(self, Role::RustDealloc | Role::RustRealloc | Role::Free | Role::Realloc | Role::UsableSize | Role::DlFree | Role::DlRealloc)
    }

    fn family(self) -> Family {
        match self {
            Role::RustAlloc | Role::RustAllocZeroed | Role::RustDealloc | Role::RustRealloc => Family::Rust,
            Role::DlMalloc | Role::DlFree | Role::DlRealloc | Role::DlMemalign => Family::Dlmalloc,
            _ => Family::C,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ROLES.iter().copied().find(|r| r.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ROLES.iter().map(|r| r.name()).collect();
            format!("unknown allocator role `{s}` (known: {})", names.join(", "))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Rust's allocator shims.
    Rust,
    /// The dlmalloc crate's entry points (std's allocator on wasm32 when LTO inlined the shims).
    Dlmalloc,
    /// The C allocator interface.
    C,
    /// What wasm-bindgen's exports call, in a module without names.
    WasmBindgen,
    /// Named with `--allocator`.
    Manual,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Rust => "rust",
            Family::Dlmalloc => "dlmalloc",
            Family::C => "c",
            Family::WasmBindgen => "wasm-bindgen",
            Family::Manual => "manual",
        }
    }
}

/// One function of the module as the search sees it.
#[derive(Clone, Debug, Default)]
pub struct Func {
    pub index: u32,
    /// From the name section, as written (mangled).
    pub name: Option<String>,
    pub exports: Vec<String>,
    /// `params>results`, `i` for i32, `I` for i64, `f`/`F` for f32/f64, `v` for v128, `r` for references.
    pub signature: String,
    pub imported: bool,
    /// Functions it calls directly.
    pub callees: Vec<u32>,
}

/// One entry point found.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub role: Role,
    pub index: u32,
    /// The name it was found by (demangled), or its index.
    pub name: String,
}

/// What the search found, and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Found {
    /// Which interface routing uses, when one is complete.
    pub family: Option<Family>,
    pub entries: Vec<Entry>,
    /// Why that interface (or why none): one line each.
    pub reasons: Vec<String>,
}

impl Found {
    pub fn get(&self, role: Role) -> Option<&Entry> {
        self.entries.iter().find(|e| e.role == role)
    }

    /// One line for `inspect`.
    pub fn summary(&self) -> String {
        match self.family {
            Some(family) => {
                let entries: Vec<String> = self.entries.iter().map(|e| format!("{}={} ({})", e.role.name(), e.index, e.name)).collect();
                format!("{}: {}", family.name(), entries.join(", "))
            }
            None => "none".to_string(),
        }
    }
}

/// The wasm-bindgen exports whose callees are the allocator in a module without names.
const WASM_BINDGEN: &[(&str, &[Role])] = &[
    ("__wbindgen_malloc", &[Role::RustAlloc, Role::Malloc]),
    ("__wbindgen_free", &[Role::RustDealloc, Role::Free]),
    ("__wbindgen_realloc", &[Role::RustRealloc]),
];

/// How far from the program's calls a name sits: Rust's `__rust_*` shims
/// call `__rdl_*` (std's allocator) or `__rg_*` (a `#[global_allocator]`).
fn rank(name: &str) -> u8 {
    let rust = name.strip_prefix("__rustc::").unwrap_or(name);
    u8::from(rust.starts_with("__rdl_") || rust.starts_with("__rg_"))
}

/// Which role a (demangled) name has.
fn role_of(name: &str) -> Option<Role> {
    let rust = name.strip_prefix("__rustc::").unwrap_or(name);
    Some(match rust {
        "__rust_alloc" | "__rdl_alloc" | "__rg_alloc" => Role::RustAlloc,
        "__rust_alloc_zeroed" | "__rdl_alloc_zeroed" | "__rg_alloc_zeroed" => Role::RustAllocZeroed,
        "__rust_dealloc" | "__rdl_dealloc" | "__rg_dealloc" => Role::RustDealloc,
        "__rust_realloc" | "__rdl_realloc" | "__rg_realloc" => Role::RustRealloc,
        "malloc" | "dlmalloc" | "__libc_malloc" | "emscripten_builtin_malloc" => Role::Malloc,
        "calloc" | "dlcalloc" | "__libc_calloc" | "emscripten_builtin_calloc" => Role::Calloc,
        "free" | "dlfree" | "__libc_free" | "emscripten_builtin_free" => Role::Free,
        "realloc" | "dlrealloc" | "__libc_realloc" | "emscripten_builtin_realloc" => Role::Realloc,
        "posix_memalign" | "dlposix_memalign" => Role::PosixMemalign,
        "aligned_alloc" => Role::AlignedAlloc,
        "memalign" | "dlmemalign" | "emscripten_builtin_memalign" => Role::Memalign,
        "malloc_usable_size" | "dlmalloc_usable_size" => Role::UsableSize,
        "dlmalloc::dlmalloc::Dlmalloc<A>::malloc" => Role::DlMalloc,
        "dlmalloc::dlmalloc::Dlmalloc<A>::free" => Role::DlFree,
        "dlmalloc::dlmalloc::Dlmalloc<A>::realloc" => Role::DlRealloc,
        "dlmalloc::dlmalloc::Dlmalloc<A>::memalign" => Role::DlMemalign,
        _ => return None,
    })
}

/// A name as a person reads it: Rust names demangled without their hash.
pub fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Searches `funcs` (indexed by function index). `manual` entries, when given, are all that is used.
pub fn find(funcs: &[Func], manual: &[(Role, String)]) -> Result<Found> {
    if !manual.is_empty() {
        return find_manual(funcs, manual);
    }
    let mut found = Found::default();
    // Role -> function indices, with the name each was found by.
    let mut by_role: BTreeMap<Role, BTreeMap<u32, String>> = BTreeMap::new();
    let mut wrong_type = Vec::new();
    for f in funcs.iter().filter(|f| !f.imported) {
        let names = f.name.iter().map(|n| demangle(n)).chain(f.exports.iter().cloned());
        for name in names {
            let Some(role) = role_of(&name) else { continue };
            if !role.accepts(&f.signature) {
                wrong_type.push(format!("{name} (function {}) has type {}, not {}", f.index, f.signature, role.signature()));
                continue;
            }
            by_role.entry(role).or_default().entry(f.index).or_insert(name);
        }
    }
    // Of several names for a role, the outermost shims.
    for candidates in by_role.values_mut() {
        let best = candidates.values().map(|n| rank(n)).min().unwrap_or(0);
        candidates.retain(|_, n| rank(n) == best);
    }
    found.reasons.extend(wrong_type);
    let single = |role: Role, found: &mut Found| -> Option<Entry> {
        let candidates = by_role.get(&role)?;
        if candidates.len() > 1 {
            let list: Vec<String> = candidates.iter().map(|(i, n)| format!("{n} ({i})")).collect();
            found.reasons.push(format!("{} is ambiguous: {}", role.name(), list.join(", ")));
            return None;
        }
        let (&index, name) = candidates.iter().next()?;
        Some(Entry { role, index, name: name.clone() })
    };

    let rust = [Role::RustAlloc, Role::RustDealloc, Role::RustRealloc, Role::RustAllocZeroed];
    let dl = [Role::DlMalloc, Role::DlFree, Role::DlRealloc, Role::DlMemalign];
    let c = [
        Role::Malloc,
        Role::Free,
        Role::Calloc,
        Role::Realloc,
        Role::PosixMemalign,
        Role::AlignedAlloc,
        Role::Memalign,
        Role::UsableSize,
    ];
    let family = |roles: &[Role], required: &[Role], found: &mut Found| -> Option<Vec<Entry>> {
        let entries: Vec<Entry> = roles.iter().filter_map(|&r| single(r, found)).collect();
        let missing: Vec<&str> = required.iter().filter(|r| !entries.iter().any(|e| e.role == **r)).map(|r| r.name()).collect();
        if entries.is_empty() {
            return None;
        }
        if !missing.is_empty() {
            found.reasons.push(format!("{} allocator incomplete: no {}", roles[0].family().name(), missing.join(", ")));
            return None;
        }
        Some(entries)
    };
    let rust_entries = family(&rust, &rust[..3], &mut found);
    let dl_entries = family(&dl, &dl[..3], &mut found);
    let c_entries = family(&c, &c[..2], &mut found);

    if let Some(entries) = rust_entries {
        let shims: BTreeSet<u32> = entries.iter().map(|e| e.index).collect();
        let dl_funcs: BTreeSet<u32> = by_role.iter().filter(|(r, _)| r.family() == Family::Dlmalloc).flat_map(|(_, m)| m.keys().copied()).collect();
        let outside = reached_around(funcs, &shims, &dl_funcs);
        if outside.is_empty() {
            found.family = Some(Family::Rust);
            found.entries = entries;
            found.reasons.push("Rust's allocator shims, and nothing else calls into dlmalloc".to_string());
            return Ok(found);
        }
        found.reasons.push(format!(
            "Rust's allocator shims were inlined into some callers (functions {} call dlmalloc directly)",
            list(&outside)
        ));
    }
    if let Some(entries) = dl_entries {
        found.family = Some(Family::Dlmalloc);
        found.entries = entries;
        found.reasons.push("the dlmalloc crate's entry points (std's allocator on wasm32)".to_string());
        return Ok(found);
    }
    if let Some(entries) = c_entries {
        found.family = Some(Family::C);
        found.entries = entries;
        found.reasons.push("the C allocator interface".to_string());
        return Ok(found);
    }
    if let Some(entries) = follow_wasm_bindgen(funcs, &mut found) {
        found.family = Some(Family::WasmBindgen);
        found.entries = entries;
        return Ok(found);
    }
    let named = funcs.iter().filter(|f| f.name.is_some()).count();
    found.reasons.push(if named == 0 {
        "no allocator found: the module has no function names (stripped); name the entry points with --allocator ROLE=FUNC,...".to_string()
    } else {
        format!("no allocator found among {named} named functions; name the entry points with --allocator ROLE=FUNC,...")
    });
    Ok(found)
}

/// Functions that reach `inner` without going through `shims`: callers of
/// `inner` (and their callers, a few levels up) that something other than
/// the shims calls, or that nothing calls directly (exported, in a table).
fn reached_around(funcs: &[Func], shims: &BTreeSet<u32>, inner: &BTreeSet<u32>) -> Vec<u32> {
    let mut callers: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for f in funcs {
        for &c in &f.callees {
            callers.entry(c).or_default().push(f.index);
        }
    }
    let mut internal: BTreeSet<u32> = inner.clone();
    let mut frontier: Vec<u32> = inner.iter().flat_map(|i| callers.get(i).into_iter().flatten().copied()).collect();
    let mut outside = BTreeSet::new();
    for _ in 0..4 {
        let mut next = Vec::new();
        for f in frontier.drain(..) {
            if shims.contains(&f) || internal.contains(&f) {
                continue;
            }
            let up = callers.get(&f).map(Vec::as_slice).unwrap_or_default();
            let exported = funcs.get(f as usize).is_some_and(|x| !x.exports.is_empty());
            if up.is_empty() || exported {
                outside.insert(f);
            } else {
                internal.insert(f);
                next.extend(up.iter().copied());
            }
        }
        frontier = next;
    }
    // Still climbing after a few levels: allocator code does not nest that deep.
    outside.extend(frontier.into_iter().filter(|f| !shims.contains(f) && !internal.contains(f)));
    outside.into_iter().collect()
}

fn list(indices: &[u32]) -> String {
    let shown: Vec<String> = indices.iter().take(5).map(|i| i.to_string()).collect();
    let more = if indices.len() > 5 { format!(" and {} more", indices.len() - 5) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

/// In a module without names: what wasm-bindgen's allocator exports call.
fn follow_wasm_bindgen(funcs: &[Func], found: &mut Found) -> Option<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    // Newer wasm-bindgen numbers its exports (`__wbindgen_export_N`); malloc,
    // realloc and free come first, told apart by their signatures.
    let numbered = |signature: &str| {
        let mut numbered: Vec<(u32, &Func)> = funcs
            .iter()
            .filter_map(|f| f.exports.iter().find_map(|e| e.strip_prefix("__wbindgen_export_")?.parse::<u32>().ok()).map(|n| (n, f)))
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        numbered.into_iter().take(4).find(|(_, f)| f.signature == signature).map(|(_, f)| f)
    };
    for (export, roles) in WASM_BINDGEN {
        let by_name = funcs.iter().find(|f| f.exports.iter().any(|e| e == export));
        let fallback = match *export {
            "__wbindgen_malloc" => numbered("ii>i"),
            "__wbindgen_realloc" => numbered("iiii>i"),
            _ => numbered("iii>"),
        };
        let Some(f) = by_name.or(fallback) else { continue };
        let export = f.exports.first().map(String::as_str).unwrap_or(export);
        let callee = f.callees.iter().filter_map(|&c| funcs.get(c as usize)).find_map(|c| {
            let role = roles.iter().find(|r| r.signature() == c.signature)?;
            Some(Entry { role: *role, index: c.index, name: format!("function {} (called by {export})", c.index) })
        });
        match callee {
            Some(entry) => entries.push(entry),
            None => found.reasons.push(format!("{export} calls no function with an allocator's signature")),
        }
    }
    if entries.is_empty() {
        return None;
    }
    let has = |pred: fn(Role) -> bool| entries.iter().any(|e| pred(e.role));
    if !has(|r| matches!(r, Role::RustAlloc | Role::Malloc)) || !has(|r| matches!(r, Role::RustDealloc | Role::Free)) {
        found.reasons.push("wasm-bindgen's exports do not lead to both an alloc and a free".to_string());
        return None;
    }
    found.reasons.push("names stripped: the functions wasm-bindgen's __wbindgen_malloc/free/realloc call".to_string());
    Some(entries)
}

fn find_manual(funcs: &[Func], manual: &[(Role, String)]) -> Result<Found> {
    let mut found = Found { family: Some(Family::Manual), ..Found::default() };
    for (role, spec) in manual {
        let f = match spec.parse::<u32>() {
            Ok(index) => funcs.get(index as usize).with_context(|| format!("--allocator {}={spec}: the module has no function {index}", role.name()))?,
            Err(_) => {
                let matching: Vec<&Func> = funcs
                    .iter()
                    .filter(|f| f.name.as_deref().is_some_and(|n| n == spec || demangle(n) == *spec) || f.exports.iter().any(|e| e == spec))
                    .collect();
                match matching.as_slice() {
                    [one] => *one,
                    [] => bail!("--allocator {}={spec}: no function has that name or export", role.name()),
                    more => bail!("--allocator {}={spec}: {} functions have that name; give an index", role.name(), more.len()),
                }
            }
        };
        if f.imported {
            bail!("--allocator {}={spec}: function {} is imported; routing needs a defined function", role.name(), f.index);
        }
        if !role.accepts(&f.signature) {
            bail!("--allocator {}={spec}: function {} has type {}, a {} has {}", role.name(), f.index, f.signature, role.name(), role.signature());
        }
        if found.get(*role).is_some() {
            bail!("--allocator names {} twice", role.name());
        }
        found.entries.push(Entry { role: *role, index: f.index, name: f.name.as_deref().map(demangle).unwrap_or_else(|| spec.clone()) });
    }
    let allocates = found.entries.iter().any(|e| !e.role.takes_pointer());
    let frees = found.entries.iter().any(|e| matches!(e.role, Role::RustDealloc | Role::Free | Role::DlFree));
    anyhow::ensure!(allocates && frees, "--allocator must name at least one function that allocates and one that frees");
    found.reasons.push("named with --allocator".to_string());
    Ok(found)
}

/// Parses `ROLE=FUNC,ROLE=FUNC`.
pub fn parse_manual(s: &str) -> Result<Vec<(Role, String)>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (role, func) = pair.split_once('=').ok_or_else(|| format!("`{pair}`: expected ROLE=FUNC"))?;
            Ok((role.trim().parse()?, func.trim().to_string()))
        })
        .collect()
}

/// The signature string of a function type.
pub fn signature<T>(params: &[T], results: &[T], letter: impl Fn(&T) -> char) -> String {
    let mut s: String = params.iter().map(&letter).collect();
    s.push('>');
    s.extend(results.iter().map(&letter));
    s
}

/// The functions of a parsed module, for [`find`].
pub fn funcs_of_module(module: &walrus::Module) -> Vec<Func> {
    use rayon::prelude::*;
    use walrus::ir::*;
    let letter = |t: &walrus::ValType| match t {
        walrus::ValType::I32 => 'i',
        walrus::ValType::I64 => 'I',
        walrus::ValType::F32 => 'f',
        walrus::ValType::F64 => 'F',
        walrus::ValType::V128 => 'v',
        walrus::ValType::Ref(_) => 'r',
    };
    let mut exports: BTreeMap<walrus::FunctionId, Vec<String>> = BTreeMap::new();
    for e in module.exports.iter() {
        if let walrus::ExportItem::Function(f) = e.item {
            exports.entry(f).or_default().push(e.name.clone());
        }
    }
    let index: BTreeMap<walrus::FunctionId, u32> = module.funcs.iter().enumerate().map(|(i, f)| (f.id(), i as u32)).collect();
    let funcs: Vec<&walrus::Function> = module.funcs.iter().collect();
    funcs
        .par_iter()
        .map(|f| {
            let ty = module.types.get(f.ty());
            let callees = match &f.kind {
                walrus::FunctionKind::Local(local) => {
                    let mut out = Vec::new();
                    let mut stack = vec![local.entry_block()];
                    while let Some(seq) = stack.pop() {
                        for (instr, _) in &local.block(seq).instrs {
                            match instr {
                                Instr::Call(Call { func }) | Instr::ReturnCall(ReturnCall { func }) => out.push(index[func]),
                                Instr::Block(Block { seq }) | Instr::Loop(Loop { seq }) => stack.push(*seq),
                                Instr::IfElse(IfElse { consequent, alternative }) => stack.extend([*consequent, *alternative]),
                                Instr::TryTable(TryTable { seq, .. }) => stack.push(*seq),
                                _ => {}
                            }
                        }
                    }
                    out.sort_unstable();
                    out.dedup();
                    out
                }
                _ => Vec::new(),
            };
            Func {
                index: index[&f.id()],
                name: f.name.clone(),
                exports: exports.get(&f.id()).cloned().unwrap_or_default(),
                signature: signature(ty.params(), ty.results(), letter),
                imported: matches!(f.kind, walrus::FunctionKind::Import(_)),
                callees,
            }
        })
        .collect()
}

/// The functions of a binary module, for [`find`] (without walrus: `inspect` reads modules it cannot transform).
pub fn funcs_of_wasm(wasm: &[u8]) -> Result<Vec<Func>> {
    use wasmparser::{ExternalKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef};
    let letter = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::I32 => 'i',
        wasmparser::ValType::I64 => 'I',
        wasmparser::ValType::F32 => 'f',
        wasmparser::ValType::F64 => 'F',
        wasmparser::ValType::V128 => 'v',
        wasmparser::ValType::Ref(_) => 'r',
    };
    let mut types: Vec<String> = Vec::new();
    let mut funcs: Vec<Func> = Vec::new();
    let mut imported = 0usize;
    let mut body = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty?;
                    types.push(signature(ty.params(), ty.results(), letter));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(t) | TypeRef::FuncExact(t) = import?.ty {
                        let index = funcs.len() as u32;
                        funcs.push(Func { index, signature: types.get(t as usize).cloned().unwrap_or_default(), imported: true, ..Func::default() });
                        imported += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader {
                    let index = funcs.len() as u32;
                    funcs.push(Func { index, signature: types.get(t? as usize).cloned().unwrap_or_default(), ..Func::default() });
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func {
                        if let Some(f) = funcs.get_mut(export.index as usize) {
                            f.exports.push(export.name.to_string());
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(code) => {
                let index = imported + body;
                body += 1;
                let mut reader = code.get_operators_reader()?;
                let mut callees = Vec::new();
                while !reader.eof() {
                    if let Operator::Call { function_index } | Operator::ReturnCall { function_index } = reader.read()? {
                        callees.push(function_index);
                    }
                }
                callees.sort_unstable();
                callees.dedup();
                if let Some(f) = funcs.get_mut(index) {
                    f.callees = callees;
                }
            }
            Payload::CustomSection(s) => {
                if let KnownCustom::Name(names) = s.as_known() {
                    for name in names.into_iter().flatten() {
                        if let Name::Function(map) = name {
                            for naming in map.into_iter().flatten() {
                                if let Some(f) = funcs.get_mut(naming.index as usize) {
                                    f.name = Some(naming.name.to_string());
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(funcs)
}
