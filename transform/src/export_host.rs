//! Step 4, host side: export what a host needs to drive proofs (see [`crate::abi`]).

use anyhow::Result;
use walrus::ir::Value;
use walrus::{ConstExpr, ExportItem, GlobalId, GlobalKind, Module, ValType};

use crate::abi::*;
use crate::globals::{find_stack_pointer, global_index, is_ours};
use crate::Layout;

pub struct HostInterface {
    pub proof_active: GlobalId,
    pub stack_pointer_index: Option<u32>,
    pub exported_globals: usize,
}

/// The proof-mode flag the host sets (exported by [`run`]).
pub fn proof_flag(module: &mut Module) -> GlobalId {
    let proof_active = module.globals.add_local(ValType::I32, true, false, ConstExpr::Value(Value::I32(0)));
    module.globals.get_mut(proof_active).name = Some("multimem_proof_active".to_string());
    proof_active
}

/// Exports the host interface; `proof_active` is the flag when a pass made it already.
pub fn run(module: &mut Module, layout: &Layout, proof_active: Option<GlobalId>) -> Result<HostInterface> {
    let stack_pointer = find_stack_pointer(module);
    let stack_pointer_index = stack_pointer.map(|g| global_index(module, g));
    let mutable: Vec<GlobalId> = module
        .globals
        .iter()
        .filter(|g| g.mutable && matches!(g.kind, GlobalKind::Local(_)) && !is_ours(g.name.as_deref()))
        .map(|g| g.id())
        .collect();
    let exported_globals = mutable.len();
    for global in mutable {
        let name = format!("{EXPORT_GLOBAL_PREFIX}{}", global_index(module, global));
        module.exports.add(&name, global);
    }
    if let Some(sp) = stack_pointer {
        module.exports.add(EXPORT_STACK_POINTER, sp);
    }

    let proof_active = proof_active.unwrap_or_else(|| proof_flag(module));
    module.exports.add(EXPORT_PROOF_ACTIVE, proof_active);
    module.exports.add(EXPORT_PERSISTENT_MEMORY, ExportItem::Memory(layout.persistent));
    module.exports.add(EXPORT_EPHEMERAL_MEMORY, ExportItem::Memory(layout.ephemeral));
    Ok(HostInterface { proof_active, stack_pointer_index, exported_globals })
}
