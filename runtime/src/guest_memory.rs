//! Guest memory for the caller's own host functions (WASI's `random_get`,
//! `env.*` callbacks): the pointers they get are the guest's, which under a
//! transformed module may address memory 1 or a view, and memory 0 may be
//! one the runtime made and the module never exports.

use std::cell::RefCell;

use anyhow::{anyhow, Result};
use wasmtime::Caller;

use crate::session::Memories;

thread_local! {
    /// The memories of the calls this thread is inside, innermost last.
    static CURRENT: RefCell<Vec<Memories>> = const { RefCell::new(Vec::new()) };
}

/// Marks a call or proof as running on this thread until dropped.
pub(crate) struct Entered(());

impl Entered {
    pub(crate) fn new(memories: Memories) -> Self {
        CURRENT.with(|c| c.borrow_mut().push(memories));
        Entered(())
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().pop());
    }
}

/// Reads and writes guest memory from a host function, by the guest's own
/// pointers, as [`crate::Session`] does: during a proof of the fork strategy
/// a write lands in that proof's private view and vanishes with it.
pub struct GuestMemory;

impl GuestMemory {
    /// Copies `len` bytes at guest pointer `ptr`. The error is wasmtime's, for `?` in a host function.
    pub fn read<T>(caller: &mut Caller<'_, T>, ptr: u32, len: u32) -> wasmtime::Result<Vec<u8>> {
        let memories = current().map_err(to_wasmtime)?;
        let (base, _, offset) = memories.locate(&*caller, ptr, len).map_err(to_wasmtime)?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: `locate` checked the range; the guest waits for this host call.
        unsafe { std::ptr::copy_nonoverlapping(base.add(offset), out.as_mut_ptr(), out.len()) };
        Ok(out)
    }

    /// Copies `bytes` to guest pointer `ptr`.
    pub fn write<T>(caller: &mut Caller<'_, T>, ptr: u32, bytes: &[u8]) -> wasmtime::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| wasmtime::format_err!("{} bytes exceed a 32-bit memory", bytes.len()))?;
        let memories = current().map_err(to_wasmtime)?;
        let (base, _, offset) = memories.locate(&*caller, ptr, len).map_err(to_wasmtime)?;
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(offset), bytes.len()) };
        Ok(())
    }
}

fn to_wasmtime(e: anyhow::Error) -> wasmtime::Error {
    wasmtime::format_err!("{e:#}")
}

fn current() -> Result<Memories> {
    CURRENT
        .with(|c| c.borrow().last().cloned())
        .ok_or_else(|| anyhow!("guest memory is reachable from a host function only during a Prover call or proof"))
}
