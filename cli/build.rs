//! Builds the guests (prover-guest/) for wasm32-unknown-unknown so that
//! `multimem prove` needs no paths: the reference Groth16 with the SDK, the
//! same prover without it, and halo2. Only with the `prove` feature: a
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
    for input in ["Cargo.toml", "Cargo.lock", "sdk/Cargo.toml", "sdk/src", "groth16/Cargo.toml", "groth16/src", "halo2/Cargo.toml", "halo2/src"] {
        println!("cargo:rerun-if-changed={}", guest.join(input).display());
    }
    ensure_target();
    let target_dir = root.join("target").join("guest");
    let build = |what: &str, args: &[&str]| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command.args(["build", "--target", TARGET, "--manifest-path"]).arg(guest.join("Cargo.toml"));
        command.arg("--target-dir").arg(&target_dir).args(args);
        // The host build's flags (sanitizers under cargo-fuzz, coverage) must not reach the guest.
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"] {
            command.env_remove(var);
        }
        run(&mut command, &format!("building {what} for wasm32"));
    };
    let out = target_dir.join(TARGET);
    // One invocation each: cargo unifies features within one (built together, halo2 turns
    // on features of `subtle` and `once_cell` and the reference prover's bytes change).
    build("the reference prover", &["--release", "-p", "groth16-guest"]);
    build("halo2", &["--release", "-p", "halo2-guest"]);
    // Its own profile, hence its own folder: the same crate writes the same file name.
    build("the reference prover without the SDK", &["--profile", "release-nosdk", "--no-default-features", "-p", "groth16-guest"]);
    for (var, wasm) in [
        ("MULTIMEM_REFERENCE_WASM", out.join("release").join("groth16_guest.wasm")),
        ("MULTIMEM_HALO2_WASM", out.join("release").join("halo2_guest.wasm")),
        ("MULTIMEM_GROTH16_NOSDK_WASM", out.join("release-nosdk").join("groth16_guest.wasm")),
    ] {
        assert!(wasm.exists(), "{} was not produced", wasm.display());
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
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
