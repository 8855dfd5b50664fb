//! The command line: bad input is one line on stderr, a non-zero exit, and no output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn multimem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_multimem")).args(args).output().expect("runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write(name: &str, bytes: &[u8]) -> String {
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

/// Runs `transform` expecting a refusal that mentions `reason`.
fn refuses(input: &str, extra: &[&str], reason: &str) {
    let out = scratch(&format!("{}.out.wasm", Path::new(input).file_name().unwrap().to_str().unwrap()));
    let _ = std::fs::remove_file(&out);
    // These inputs have no allocator: what is refused here is the module itself, not routing.
    let mut args = vec!["transform", input, "-o", out.to_str().unwrap(), "--no-route"];
    args.extend_from_slice(extra);
    let result = multimem(&args);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{input}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{input}: one line expected, got {stderr:?}");
    assert!(stderr.starts_with("error: ") && stderr.contains(reason), "{input}: {stderr}");
    assert!(!out.exists(), "{input}: an output file was written");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let good = wat("(module (memory 1) (func (export \"f\") (param i32) (result i32) local.get 0 i32.load))");
    refuses(&write("text.wasm", b"this is not wasm"), &[], "not a WebAssembly binary");
    refuses(&write("truncated.wasm", &good[..good.len() - 3]), &[], "malformed");
    refuses(&write("component.wasm", &wat("(component)")), &[], "component");
    refuses(&write("memory64.wasm", &wat("(module (memory i64 1))")), &[], "memory64");
    refuses(&write("two.wasm", &wat("(module (memory 1) (memory 1))")), &[], "2 memories");
    refuses(&write("none.wasm", &wat("(module)")), &[], "no memory");
    let invalid = wat("(module (memory 1) (func (result i32) i32.const 0) (func (result i32)))");
    refuses(&write("invalid_body.wasm", &invalid), &[], "invalid module: function 1: type mismatch");
    let input = write("good.wasm", &good);
    refuses(&input, &["--split", "0x12345"], "multiple of 64 KiB");
    refuses(&input, &["--opt", "9"], "optimisation level");
    refuses(scratch("missing.wasm").to_str().unwrap(), &[], "reading");
}

#[test]
fn transform_writes_a_valid_module_and_inspect_describes_it() {
    let input = write("ok.wasm", &wat("(module (memory 1) (func (export \"f\") (param i32) (result i32) local.get 0 i32.load))"));
    let output = scratch("ok.out.wasm");
    let result = multimem(&["transform", &input, "-o", output.to_str().unwrap(), "--json", "--no-route"]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(report["rewritten"]["loads"], 1);
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(&std::fs::read(&output).unwrap()).unwrap();

    let result = multimem(&["inspect", output.to_str().unwrap(), "--json"]);
    let facts: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(facts["memories"].as_array().unwrap().len(), 2);
    assert_eq!(facts["transformable"], false);
    assert!(facts["reason"].as_str().unwrap().contains("already transformed"));

    let result = multimem(&["inspect", &input]);
    let text = String::from_utf8_lossy(&result.stdout);
    assert!(text.contains("transformable: yes") && text.contains("load"), "{text}");
}

#[test]
fn optimised_output_validates() {
    let input = write("opt.wasm", &wat("(module (memory 1 1 shared) (func (export \"f\") (param i32) (result i32) local.get 0 i32.atomic.load))"));
    let output = scratch("opt.out.wasm");
    let result = multimem(&["transform", &input, "-o", output.to_str().unwrap(), "-O", "2", "--no-route"]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(&std::fs::read(&output).unwrap()).unwrap();
}

#[test]
fn host_supplied_memories_are_imported_under_the_names_asked_for() {
    // A threaded module with no allocator: routing would refuse it.
    let input = write("host.wasm", &wat("(module (import \"env\" \"memory\" (memory 1 65536 shared)) (func (export \"f\") (param i32) (result i32) local.get 0 i32.load))"));
    let output = scratch("host.out.wasm");
    let result = multimem(&["transform", &input, "-o", output.to_str().unwrap(), "--import-persistent", "--import-ephemeral=env.scratch", "--json", "--no-route"]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(report["host"]["persistent"]["import"], serde_json::json!(["env", "memory"]));
    assert_eq!(report["host"]["persistent"]["maximum"], 65536, "memory 0 keeps its declared maximum");
    assert_eq!(report["host"]["ephemeral"]["import"], serde_json::json!(["env", "scratch"]));
    assert_eq!(report["host"]["init"], "multimem.init_persistent");

    refuses(&input, &["--import-ephemeral=nodot"], "expected MODULE.NAME");
    let defined = write("host_defined.wasm", &wat("(module (memory 1) (func (export \"f\") (param i32) (result i32) local.get 0 i32.load))"));
    refuses(&defined, &["--import-ephemeral"], "add --import-persistent");
}

#[test]
fn a_halo2_size_that_is_not_a_power_of_two_is_one_line() {
    for args in [&["prove", "--guest", "halo2", "--constraints", "1000"][..], &["bench", "--guest", "halo2", "--sizes", "1024,1000"]] {
        let result = multimem(args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(stderr.starts_with("error: ") && stderr.contains("power of two"), "{args:?}: {stderr}");
        assert!(result.stdout.is_empty(), "{args:?}: nothing runs before the check");
    }
}

/// Routing is on by default: a module with no allocator to route is refused
/// in one line that says what to pass; `inspect` says the same.
#[test]
fn a_module_without_an_allocator_is_refused_unless_no_route() {
    let input = scratch("no_allocator.wasm");
    std::fs::write(&input, wat(r#"(module (memory 1) (func (export "f") (param i32) (result i32) local.get 0 i32.load))"#)).unwrap();
    let input = input.to_str().unwrap().to_string();
    refuses_routing(&input);
    let inspect = multimem(&["inspect", &input]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("routing: no") && text.contains("--allocator"), "{text}");
}

fn refuses_routing(input: &str) {
    let out = scratch("no_allocator.out.wasm");
    let result = multimem(&["transform", input, "-o", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--allocator") && stderr.contains("--no-route"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_precompiled_prover_proves_and_one_for_another_strategy_is_refused() {
    let artefact = scratch("reference-baseline.cwasm");
    let out = multimem(&["compile", env!("MULTIMEM_REFERENCE_WASM"), "-o", artefact.to_str().unwrap(), "--strategy", "baseline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prove = |strategy: &str| multimem(&["prove", "--precompiled", artefact.to_str().unwrap(), "--strategy", strategy, "--constraints", "256", "--proofs", "1", "--json"]);
    let out = prove("baseline");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["verified"], true, "{record}");
    let out = prove("recreate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr:?}");
    assert!(stderr.contains("compiled for strategy baseline, not recreate"), "{stderr}");
}
