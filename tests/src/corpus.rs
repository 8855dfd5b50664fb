//! Real-world modules, downloaded from the npm registry at test time (never
//! committed) and cached under the target directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// One module of the corpus and what produced it.
pub struct Entry {
    pub name: &'static str,
    pub producer: &'static str,
    /// npm tarball.
    pub url: &'static str,
    /// Path of the module inside the tarball (gzip-compressed when it ends in `.gz`).
    pub member: &'static str,
    pub imported_shared_memory: bool,
}

pub const CORPUS: &[Entry] = &[
    Entry {
        name: "aleo_wasm",
        producer: "rustc + wasm-bindgen, +atomics,+bulk-memory (Aleo SDK)",
        url: "https://registry.npmjs.org/@provablehq/wasm/-/wasm-0.11.10.tgz",
        member: "package/dist/mainnet/aleo_wasm.wasm",
        imported_shared_memory: true,
    },
    Entry {
        name: "oxc_parser",
        producer: "rustc (napi-rs, wasm32-wasip1-threads), +simd128,+atomics,+bulk-memory",
        url: "https://registry.npmjs.org/@oxc-parser/binding-wasm32-wasi/-/binding-wasm32-wasi-0.156.0.tgz",
        member: "package/parser.wasm32-wasi.wasm",
        imported_shared_memory: true,
    },
    Entry {
        name: "swc",
        producer: "rustc + wasm-bindgen (swc)",
        url: "https://registry.npmjs.org/@swc/wasm/-/wasm-1.16.18.tgz",
        member: "package/wasm_bg.wasm",
        imported_shared_memory: false,
    },
    Entry {
        name: "barretenberg_threads",
        producer: "clang/wasi-sdk, threads + SIMD (Aztec barretenberg prover)",
        url: "https://registry.npmjs.org/@aztec/bb.js/-/bb.js-5.0.0.tgz",
        member: "package/dest/node/barretenberg_wasm/barretenberg-threads.wasm.gz",
        imported_shared_memory: true,
    },
    Entry {
        name: "acvm_js",
        producer: "rustc + wasm-bindgen, MVP features (Noir ACVM)",
        url: "https://registry.npmjs.org/@noir-lang/acvm_js/-/acvm_js-0.55.0.tgz",
        member: "package/nodejs/acvm_js_bg.wasm",
        imported_shared_memory: false,
    },
    Entry {
        name: "sql_wasm",
        producer: "clang/emscripten (sql.js)",
        url: "https://registry.npmjs.org/sql.js/-/sql.js-1.16.0.tgz",
        member: "package/dist/sql-wasm.wasm",
        imported_shared_memory: false,
    },
];

fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("corpus")
}

/// The module's bytes, downloading it (with curl and tar) on first use.
/// Tests in one binary and test binaries run side by side fetch at once: a
/// lock serialises this process, and names of this process's own keep another
/// process's half-written download out of the way until the atomic rename.
pub fn fetch(entry: &Entry) -> Result<Vec<u8>> {
    static DOWNLOADING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = DOWNLOADING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache_dir();
    let wasm = dir.join(format!("{}.wasm", entry.name));
    if !wasm.exists() {
        std::fs::create_dir_all(&dir)?;
        let ours = |ext: &str| dir.join(format!("{}.{}.{ext}", entry.name, std::process::id()));
        let (tgz, partial) = (ours("tgz"), ours("part"));
        run(Command::new("curl").args(["-sSfL", "--retry", "3", "-o"]).arg(&tgz).arg(entry.url))
            .with_context(|| format!("downloading {}", entry.url))?;
        let unzip = if entry.member.ends_with(".gz") { " | gunzip" } else { "" };
        let script = format!("tar -xzOf '{}' '{}'{unzip} > '{}'", tgz.display(), entry.member, partial.display());
        run(Command::new("sh").args(["-c", &script])).with_context(|| format!("extracting {}", entry.member))?;
        std::fs::rename(&partial, &wasm)?;
        std::fs::remove_file(&tgz)?;
    }
    Ok(std::fs::read(&wasm)?)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}
