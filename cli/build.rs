//! Builds the reference prover (prover-guest/) for wasm32-unknown-unknown so
//! that `multimem prove` needs no paths. Only with the `prove` feature: a
//! pipeline that only transforms builds no guest and no wasmtime.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_PROVE").is_none() {
        return;
    }
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).parent().unwrap().to_path_buf();
    let guest = root.join("prover-guest");
    for input in ["Cargo.toml", "Cargo.lock", "sdk/Cargo.toml", "sdk/src", "groth16/Cargo.toml", "groth16/src"] {
        println!("cargo:rerun-if-changed={}", guest.join(input).display());
    }
    ensure_target();
    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--target", TARGET, "-p", "groth16-guest", "--manifest-path"])
        .arg(guest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The host build's flags (sanitizers under cargo-fuzz, coverage) must not reach the guest.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"] {
        build.env_remove(var);
    }
    run(&mut build, "building the reference prover for wasm32");
    let wasm = target_dir.join(TARGET).join("release").join("groth16_guest.wasm");
    assert!(wasm.exists(), "{} was not produced", wasm.display());
    println!("cargo:rustc-env=MULTIMEM_REFERENCE_WASM={}", wasm.display());
}

/// Adds the wasm32 target with rustup when the toolchain lacks it.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).args(["--print", "target-libdir", "--target", TARGET]).output();
    let installed = out.ok().filter(|o| o.status.success()).is_some_and(|o| {
        Path::new(String::from_utf8_lossy(&o.stdout).trim()).exists()
    });
    if !installed {
        run(Command::new("rustup").args(["target", "add", TARGET]), "rustup target add wasm32-unknown-unknown");
    }
}

fn run(command: &mut Command, what: &str) {
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what} failed ({status})"),
        Err(e) => panic!("{what}: cannot run {command:?}: {e}"),
    }
}
