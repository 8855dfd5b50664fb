//! Memories a host supplies: memory 0 kept for the prover's life, memory 1
//! handed in fresh for each proof (a JavaScript host, or the threads of a
//! threaded module that must all see the same memory 1).
//!
//! `--import-persistent` imports memory 0 (a defined one under
//! `multimem.persistent_memory`) and makes instantiation leave it alone: its
//! active data segments become passive and, with the start function, move
//! into the exported `multimem.init_persistent`, which the host calls once,
//! on the first instance. Every later instance is a continuation of the
//! first, as with multimem-runtime's recreate strategy.
//!
//! `--import-ephemeral` imports memory 1, by default next to memory 0's import
//! (`env.memory` gives `env.ephemeral_memory`); it is shared iff memory 0 is.

use anyhow::{bail, ensure, Context, Result};
use walrus::ir::Value;
use walrus::{ConstExpr, DataId, DataKind, FunctionBuilder, FunctionId, ImportKind, MemoryId, Module};

use crate::abi::{EXPORT_INIT_PERSISTENT, IMPORT_EPHEMERAL_MEMORY, IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY};
use crate::{Form, Import, Layout, Options};

pub fn run(module: &mut Module, layout: &Layout, options: &Options) -> Result<()> {
    if options.import_persistent.is_none() && options.import_ephemeral.is_none() {
        return Ok(());
    }
    ensure!(layout.form == Form::Portable, "memories a host supplies need the portable form (the view form's memory 1 is built by the host's memory creator)");
    if let Some(import) = &options.import_persistent {
        import_persistent(module, layout.persistent, import)?;
    }
    if let Some(import) = &options.import_ephemeral {
        import_ephemeral(module, layout, import)?;
    }
    Ok(())
}

fn import_persistent(module: &mut Module, memory0: MemoryId, import: &Import) -> Result<()> {
    match (module.memories.get(memory0).import, import) {
        (Some(existing), Import::As { module: m, name }) => {
            let existing = module.imports.get_mut(existing);
            (existing.module, existing.name) = (m.clone(), name.clone());
        }
        (Some(_), Import::Default) => {}
        (None, import) => {
            let (m, name) = import.name_or(IMPORT_MODULE, IMPORT_PERSISTENT_MEMORY);
            add_import(module, &m, &name, memory0)?;
        }
    }
    let init = init_once(module, memory0)?;
    module.exports.add(EXPORT_INIT_PERSISTENT, init);
    Ok(())
}

fn import_ephemeral(module: &mut Module, layout: &Layout, import: &Import) -> Result<()> {
    let memory0_import = module.memories.get(layout.persistent).import;
    let Some(memory0_import) = memory0_import else {
        bail!("memory 1 can be imported only next to an imported memory 0 (add --import-persistent)");
    };
    let beside = module.imports.get(memory0_import).module.clone();
    let (m, name) = import.name_or(&beside, IMPORT_EPHEMERAL_MEMORY);
    add_import(module, &m, &name, layout.ephemeral)
}

fn add_import(module: &mut Module, m: &str, name: &str, memory: MemoryId) -> Result<()> {
    ensure!(
        !module.imports.iter().any(|i| i.module == m && i.name == name),
        "the module already imports something as {m}.{name}: choose another name"
    );
    let id = module.imports.add(m, name, ImportKind::Memory(memory));
    module.memories.get_mut(memory).import = Some(id);
    Ok(())
}

/// Turns memory 0's active data segments into passive ones and returns a
/// function that applies them in order, drops them and then runs the start
/// function (which no longer runs at instantiation).
fn init_once(module: &mut Module, memory0: MemoryId) -> Result<FunctionId> {
    let mut segments: Vec<(DataId, ConstExpr, u32)> = Vec::new();
    let ids: Vec<DataId> = module.data.iter().map(|d| d.id()).collect();
    for id in ids {
        let data = module.data.get_mut(id);
        let DataKind::Active { memory, offset } = &data.kind else { continue };
        ensure!(*memory == memory0, "data segment for memory 1 in a transformed module");
        let offset = match offset {
            ConstExpr::Value(v) => ConstExpr::Value(*v),
            ConstExpr::Global(g) => ConstExpr::Global(*g),
            other => bail!("data segment offset {other:?} is not a constant or a global"),
        };
        let len = u32::try_from(data.value.len()).context("data segment larger than 4 GiB")?;
        segments.push((id, offset, len));
        data.kind = DataKind::Passive;
    }
    module.memories.get_mut(memory0).data_segments.clear();
    let start = module.start.take();

    let mut builder = FunctionBuilder::new(&mut module.types, &[], &[]);
    builder.name("multimem_init_persistent".to_string());
    let mut body = builder.func_body();
    for (id, offset, len) in segments {
        match offset {
            ConstExpr::Value(Value::I32(at)) => body.i32_const(at),
            ConstExpr::Global(global) => body.global_get(global),
            other => bail!("data segment offset {other:?} is not an i32 constant or a global"),
        };
        body.i32_const(0).i32_const(len as i32).memory_init(memory0, id).data_drop(id);
    }
    if let Some(start) = start {
        body.call(start);
    }
    Ok(builder.finish(vec![], &mut module.funcs))
}
