//! Node 22 and npm packages for the JS host's tests, installed with npm from
//! the npm registry on first use and cached under the target directory.
//!
//! Multi-memory is on by default from Node 22 (V8 12.4); an older system
//! Node refuses two memories, so the tests take `node-linux-<arch>` of a
//! pinned 22.x unless the system's Node is 22 or newer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// The Node release the tests install when the system's is older than 22.
pub const NODE_VERSION: &str = "22.23.5";

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The repository's `js/` folder (the JS host and its tests).
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../js")
}

/// A `node` of version 22 or newer.
pub fn node22() -> Result<PathBuf> {
    if let Some(major) = major_version(Path::new("node")) {
        if major >= 22 {
            return Ok(PathBuf::from("node"));
        }
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => bail!("no Node 22 here: the system's node is older and npm has no node-linux build for {other}"),
    };
    anyhow::ensure!(cfg!(target_os = "linux"), "no Node 22 here: install Node 22 or newer (the tests fetch one only on Linux)");
    let package = format!("node-linux-{arch}");
    let dir = npm_install("node22", &[&format!("{package}@{NODE_VERSION}")])?;
    let node = dir.join("node_modules").join(&package).join("bin/node");
    anyhow::ensure!(major_version(&node) == Some(22), "{} does not run as Node 22", node.display());
    Ok(node)
}

fn major_version(node: &Path) -> Option<u32> {
    let out = Command::new(node).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

/// Installs `packages` (npm specs such as `sql.js@1.16.0`) into
/// `target/npm/<name>` once and returns that folder (its `node_modules` holds them).
pub fn npm_install(name: &str, packages: &[&str]) -> Result<PathBuf> {
    // The tests of one binary run on threads: one installs, the others wait and reuse it.
    static INSTALL: Mutex<()> = Mutex::new(());
    let _turn = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = target_dir().join("npm").join(name);
    let stamp = dir.join(".installed");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(dir);
    }
    // Install beside and rename, so that tests running at once never see half a folder.
    let partial = dir.with_extension(format!("part{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    let status = Command::new("npm")
        .args(["install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
        .arg(&partial)
        .args(packages)
        .status()
        .context("running npm (the JS host's tests install Node 22 and real glue from the npm registry)")?;
    if !status.success() {
        bail!("npm install {wanted} failed: {status}");
    }
    std::fs::write(partial.join(".installed"), &wanted)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&partial, &dir).is_err() && !stamp.exists() {
            bail!("could not move {} into place", partial.display());
        }
    }
    let _ = std::fs::remove_dir_all(&partial);
    Ok(dir)
}

/// Runs `node --test` on `files` (relative to `js/`) with `env`; fails with node's output.
pub fn node_test(files: &[&str], env: &[(&str, &Path)]) -> Result<()> {
    let node = node22()?;
    let mut command = Command::new(&node);
    command.current_dir(js_dir()).arg("--test").arg("--test-reporter=spec").args(files);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().with_context(|| format!("running {}", node.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    if !out.status.success() {
        bail!("node --test {} failed ({}):\n{text}", files.join(" "), out.status);
    }
    Ok(())
}

/// A folder under the target directory for files a test hands to Node.
pub fn scratch(name: &str) -> Result<PathBuf> {
    let dir = target_dir().join("node-inputs").join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
