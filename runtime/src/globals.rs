//! Mutable globals the transformer exports, carried from one instance to the next.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use multimem_transform::abi::{EXPORT_GLOBAL_PREFIX, EXPORT_PROOF_ACTIVE, EXPORT_PROOF_EPOCH};
use wasmtime::{Instance, Module, Store, Val};

/// The exported mutable globals of a module (`multimem.global.N`), by name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Globals {
    names: Vec<String>,
    /// Proofs started: a routed module's heap layout alternates with its parity.
    proofs: Arc<AtomicU32>,
}

impl Globals {
    pub(crate) fn of(module: &Module) -> Self {
        let names = module
            .exports()
            .filter(|e| e.name().starts_with(EXPORT_GLOBAL_PREFIX) && e.ty().global().is_some())
            .map(|e| e.name().to_owned())
            .collect();
        Globals { names, proofs: Arc::default() }
    }

    /// Counts a proof into a routed module's `multimem.proof_epoch`, so that a
    /// stale pointer of the previous proof misses this proof's heap.
    pub(crate) fn count_proof<T>(&self, store: &mut Store<T>, instance: Instance) -> Result<()> {
        if let Some(epoch) = instance.get_global(&mut *store, EXPORT_PROOF_EPOCH) {
            let n = self.proofs.fetch_add(1, Ordering::Relaxed);
            epoch.set(&mut *store, Val::I32(n as i32))?;
        }
        Ok(())
    }

    pub(crate) fn capture<T>(&self, store: &mut Store<T>, instance: Instance) -> Vec<Val> {
        let globals: Vec<_> = self.names.iter().filter_map(|n| instance.get_global(&mut *store, n)).collect();
        globals.into_iter().map(|g| g.get(&mut *store)).collect()
    }

    pub(crate) fn restore<T>(&self, store: &mut Store<T>, instance: Instance, values: &[Val]) -> Result<()> {
        for (name, value) in self.names.iter().zip(values) {
            let global = instance.get_global(&mut *store, name).context("exported global vanished")?;
            global.set(&mut *store, *value).map_err(anyhow::Error::from).with_context(|| format!("restoring {name}"))?;
        }
        Ok(())
    }
}

/// Turns the proof mode on or off (a transformed module's `multimem.proof_active` global).
pub(crate) fn set_proof_active<T>(store: &mut Store<T>, instance: Instance, on: bool) -> Result<()> {
    let flag = instance
        .get_global(&mut *store, EXPORT_PROOF_ACTIVE)
        .with_context(|| format!("the module does not export `{EXPORT_PROOF_ACTIVE}`: was it transformed by multimem?"))?;
    flag.set(&mut *store, Val::I32(on as i32))?;
    Ok(())
}
