//! The module's globals as multimem sees them: which is the stack pointer,
//! which ones multimem added, and the index each gets in the emitted module.

use walrus::{GlobalId, GlobalKind, Module, ValType};

/// Whether a global is one multimem added (they are named `multimem_*`).
pub fn is_ours(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.starts_with("multimem_"))
}

/// `__stack_pointer` by name (LLVM's), else the first mutable i32 global defined by the module.
pub fn find_stack_pointer(module: &Module) -> Option<GlobalId> {
    let named = module.globals.iter().find(|g| g.name.as_deref() == Some("__stack_pointer"));
    named
        .or_else(|| {
            module
                .globals
                .iter()
                // Not a global multimem added, exported (`multimem.route_depth`) or not.
                .find(|g| g.mutable && g.ty == ValType::I32 && matches!(g.kind, GlobalKind::Local(_)) && !g.name.as_deref().is_some_and(|n| n.starts_with("multimem")))
        })
        .map(|g| g.id())
}

/// The index `global` has in the emitted module: imported globals first, then defined ones.
pub fn global_index(module: &Module, global: GlobalId) -> u32 {
    let imported = module.globals.iter().filter(|g| matches!(g.kind, GlobalKind::Import(_)));
    let defined = module.globals.iter().filter(|g| matches!(g.kind, GlobalKind::Local(_)));
    imported.chain(defined).position(|g| g.id() == global).expect("global belongs to the module") as u32
}
