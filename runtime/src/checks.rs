//! What the runtime checks of a module before compiling it, so that a module
//! it cannot run is refused with the reason, not with whatever breaks first.

use anyhow::{bail, ensure, Result};

/// The bytes are a core WebAssembly module (not garbage, not a component).
pub(crate) fn is_core_module(wasm: &[u8]) -> Result<()> {
    match wasm {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => bail!("this is a WebAssembly component; the runtime runs core modules"),
        [0, b'a', b's', b'm', ..] => bail!("not a WebAssembly module this runtime knows (version {:?})", &wasm[4..wasm.len().min(8)]),
        _ => bail!("not a WebAssembly module (no `\\0asm` header; {} bytes)", wasm.len()),
    }
}

/// The split the runtime reads from the marker is the one the transform wrote
/// for hosts (the host section): a module edited after `multimem transform` may disagree.
pub(crate) fn split_agrees(wasm: &[u8]) -> Result<()> {
    let (Some(marker), Some(host)) = (multimem_transform::marker(wasm), multimem_transform::host_section::read(wasm)) else {
        return Ok(());
    };
    ensure!(
        marker.split == host.split,
        "the module's marker says split {:#x} but its host section says {:#x}: was it edited after `multimem transform`?",
        marker.split,
        host.split
    );
    Ok(())
}

/// The exports the runtime drives a transformed module through.
pub(crate) fn runtime_exports(module: &wasmtime::Module) -> Result<()> {
    use multimem_transform::abi::EXPORT_PROOF_ACTIVE;
    ensure!(
        module.get_export(EXPORT_PROOF_ACTIVE).is_some_and(|e| e.global().is_some()),
        "the module does not export the global `{EXPORT_PROOF_ACTIVE}`: was an export removed after `multimem transform`?"
    );
    Ok(())
}

/// Compiles `wasm`; a threaded module (shared memories) that the engine
/// refuses is told which engine takes it.
pub(crate) fn compile(engine: &wasmtime::Engine, wasm: &[u8], what: &str) -> Result<wasmtime::Module> {
    wasmtime::Module::new(engine, wasm).map_err(|e| {
        let threaded = multimem_transform::host_section::read(wasm).is_some_and(|h| h.shared);
        let e = anyhow::Error::from(e).context(what.to_string());
        if threaded {
            e.context("a threaded module (shared memories) needs multimem_runtime::engine_on_demand(): the pooling allocator of engine() cannot hold a defined shared memory")
        } else {
            e
        }
    })
}

/// An instantiation that failed: a trap is the start function's; anything else is linking or allocation.
pub(crate) fn instantiate_error(e: wasmtime::Error) -> anyhow::Error {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(_) => crate::session::call_error("start", e),
        None => anyhow::anyhow!("instantiating the module: {e:#}"),
    }
}
