//! The JS host (`js/`) in Node 22, which this test installs from the npm
//! registry when the system's Node is older (see `multimem_tests::node`).
//! Each test writes the modules a `js/test/*.test.js` file needs under
//! `target/node-inputs/` and runs `node --test` on it.

use std::path::Path;

use anyhow::{Context, Result};
use multimem::reference::{Guest, Reference};
use multimem_runtime::{Limits, Strategy};
use multimem_tests::corpus::{fetch, CORPUS};
use multimem_tests::node::{node_test, npm_install, scratch};
use multimem_transform::{inspect, Import, Options};
use serde_json::{json, Value};
use wasmparser::{Parser, Payload, TypeRef};

/// Options for a host that supplies both memories (the JS host).
pub fn js_host_options() -> Options {
    Options { import_persistent: Some(Import::Default), import_ephemeral: Some(Import::Default), ..Options::default() }
}

/// Proofs per guest in the Node tests (at small sizes they take seconds).
const PROOFS: u64 = 50;

/// The guests the JS host proves with, at their test size (constraints, or rows
/// for halo2), and how each is transformed.
fn node_guests() -> Vec<(Guest, u32, Options)> {
    // Routing on, as the wasmtime runtime transforms them (a guest with the SDK routes itself).
    let routed = || Options { route: multimem_transform::Route::On, ..js_host_options() };
    vec![(Guest::Groth16, 256, routed()), (Guest::Halo2, 16, routed())]
}

#[test]
fn reference_provers_in_node22() -> Result<()> {
    let root = scratch("provers")?;
    let mut listed = Vec::new();
    for (guest, size, options) in node_guests() {
        let dir = root.join(guest.name());
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("guest.wasm"), guest.wasm())?;
        std::fs::write(dir.join("guest.host.wasm"), multimem_transform::transform(guest.wasm(), &options)?)?;
        // The wasmtime runtime's proofs for the same seeds, which Node must reproduce byte for byte.
        let engine = multimem_runtime::engine()?;
        let mut reference = Reference::load_guest(&engine, guest, Strategy::Recreate, Limits::default())?;
        reference.setup(size)?;
        let mut proofs = Vec::new();
        for seed in 1..=PROOFS {
            proofs.push(hex(&reference.prove(seed).0.with_context(|| format!("{guest} proof {seed} in wasmtime"))?.bytes));
        }
        let expected = json!({"guest": guest.name(), "setup": guest.setup_arg(size)?, "proofs": proofs});
        std::fs::write(dir.join("expected.json"), expected.to_string())?;
        listed.push(guest.name());
    }
    std::fs::write(root.join("guests.json"), json!(listed).to_string())?;
    node_test(&["test/provers.test.js"], &[("MULTIMEM_NODE_INPUTS", &root)])
}

#[test]
fn corpus_drop_in_in_node22() -> Result<()> {
    let dir = scratch("drop-in")?;
    let mut manifest = Vec::new();
    for entry in CORPUS {
        let original = fetch(entry)?;
        let transformed = multimem_transform::transform(&original, &cli_defaults(&original)?)?;
        std::fs::write(dir.join(format!("{}.wasm", entry.name)), &original)?;
        std::fs::write(dir.join(format!("{}.mm.wasm", entry.name)), &transformed)?;
        manifest.push(json!({"name": entry.name, "imports": imports_json(&original)?}));
    }
    std::fs::write(dir.join("manifest.json"), Value::Array(manifest).to_string())?;
    node_test(&["test/drop-in.test.js"], &[("MULTIMEM_NODE_INPUTS", &dir)])
}

#[test]
fn real_glue_in_node22() -> Result<()> {
    let dir = scratch("glue")?;
    let packages = npm_install("glue", &["sql.js@1.16.0", "@noir-lang/acvm_js@0.55.0"])?;
    let modules = packages.join("node_modules");
    let sql = std::fs::read(modules.join("sql.js/dist/sql-wasm.wasm"))?;
    // Drop-ins as the CLI makes them; the host builds without routing: the glue
    // copies arguments in through its views of memory 0, so a proof's malloc
    // must not hand it memory 1 (routed, sql.js's proofs fail "out of memory").
    std::fs::write(dir.join("sql-wasm.wasm"), multimem_transform::transform(&sql, &cli_defaults(&sql)?)?)?;
    std::fs::write(dir.join("sql-wasm.host.wasm"), multimem_transform::transform(&sql, &js_host_options())?)?;
    let acvm = std::fs::read(modules.join("@noir-lang/acvm_js/web/acvm_js_bg.wasm"))?;
    // Unversioned until the provenance bug in tests/tests/negative_index.rs is fixed:
    // versioned, acvm_js's compressWitness traps.
    let unversioned = |o: Options| Options { version: false, ..o };
    std::fs::write(dir.join("acvm_js_bg.wasm"), multimem_transform::transform(&acvm, &unversioned(cli_defaults(&acvm)?))?)?;
    std::fs::write(dir.join("acvm_js_bg.host.wasm"), multimem_transform::transform(&acvm, &unversioned(js_host_options()))?)?;
    let env: [(&str, &Path); 2] = [("MULTIMEM_NODE_INPUTS", &dir), ("MULTIMEM_NODE_MODULES", &modules)];
    node_test(&["test/glue.test.js"], &env).context("real glue with transformed modules")
}

/// A threaded module: memory 0 imported shared, as wasm-bindgen's and wasi-threads' glue create it.
const THREADED: &str = r#"(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "multimem" "ephemeral_grow" (func $grow (param i32) (result i32)))
  (func (export "grow_ephemeral") (param i32) (result i32) local.get 0 call $grow)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.atomic.store)
  (func (export "load") (param i32) (result i32) local.get 0 i32.atomic.load))"#;

#[test]
fn threads_share_memory_1_in_node22() -> Result<()> {
    let dir = scratch("threads")?;
    let wasm = multimem_transform::transform(&wat::parse_str(THREADED)?, &js_host_options())?;
    std::fs::write(dir.join("threaded.host.wasm"), wasm)?;
    node_test(&["test/threads.test.js"], &[("MULTIMEM_NODE_INPUTS", &dir)])
}

/// What `multimem transform` does by default: route the module's allocator
/// where inspect finds one, else leave it alone.
fn cli_defaults(wasm: &[u8]) -> Result<Options> {
    let routable = inspect::run(wasm)?.routing.routable;
    let route = if routable { multimem_transform::Route::On } else { multimem_transform::Route::Off };
    Ok(Options { route, ..Options::default() })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The module's imports, with what a host needs to create each one.
fn imports_json(wasm: &[u8]) -> Result<Value> {
    let mut out = Vec::new();
    let mut results = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    results.push(ty?.results().len());
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    let mut entry = match import.ty {
                        TypeRef::Memory(m) => json!({"kind": "memory", "initial": m.initial, "maximum": m.maximum, "shared": m.shared}),
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => json!({"kind": "function", "results": results.get(ty as usize)}),
                        TypeRef::Table(t) => json!({
                            "kind": "table",
                            "element": if t.element_type.is_func_ref() { "anyfunc" } else { "externref" },
                            "initial": t.initial,
                        }),
                        TypeRef::Global(g) => json!({"kind": "global", "type": g.content_type.to_string(), "mutable": g.mutable}),
                        TypeRef::Tag(_) => json!({"kind": "tag"}),
                    };
                    entry["module"] = json!(import.module);
                    entry["name"] = json!(import.name);
                    out.push(entry);
                }
            }
            _ => {}
        }
    }
    Ok(Value::Array(out))
}
