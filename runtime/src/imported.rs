//! Memory 0 as a module ships it: imported under any name, shared or not.
//! A host that runs the module whole (baseline, in place) makes that memory
//! itself unless the caller's `Linker` supplies one.

use anyhow::{Context, Result};
use wasmtime::{Extern, ExternType, Linker, Memory, Module, SharedMemory, Store};

use crate::session::Memory0;

/// Defines, in `linker`, the memory `module` imports if `linker` lacks it; returns it.
pub(crate) fn supply_memory<T>(linker: &mut Linker<T>, store: &mut Store<T>, module: &Module) -> Result<Option<Memory0>> {
    let Some((from, name, ty)) = module.imports().find_map(|i| match i.ty() {
        ExternType::Memory(ty) => Some((i.module().to_owned(), i.name().to_owned(), ty)),
        _ => None,
    }) else {
        return Ok(None);
    };
    if linker.get(&mut *store, &from, &name).is_ok() {
        return Ok(None);
    }
    let made = if ty.is_shared() {
        let memory = SharedMemory::new(store.engine(), ty).map_err(anyhow::Error::from).with_context(|| format!("creating the imported memory `{from}::{name}`"))?;
        linker.define(&mut *store, &from, &name, Extern::SharedMemory(memory.clone()))?;
        Memory0::Shared(memory)
    } else {
        let memory = Memory::new(&mut *store, ty).map_err(anyhow::Error::from).with_context(|| format!("creating the imported memory `{from}::{name}`"))?;
        linker.define(&mut *store, &from, &name, memory)?;
        Memory0::Local(memory)
    };
    Ok(Some(made))
}

/// Says, in the caller's terms, why the single-instance strategies failed to load a module.
pub(crate) fn explain(e: anyhow::Error, strategy: crate::Strategy) -> anyhow::Error {
    // wasmtime's pool refuses a defined shared memory (memory 1 of a transformed shared module).
    if format!("{e:#}").contains("shared which is not supported in the pooling allocator") {
        return e.context(format!(
            "the {strategy} strategy runs this module's shared memories as they are, which the pooling engine() cannot hold: load it on multimem_runtime::engine_on_demand()"
        ));
    }
    e.context(format!("loading under the {strategy} strategy"))
}
