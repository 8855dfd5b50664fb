//! One live instance during a call or a proof: call exports, read and write guest memory.

use anyhow::{anyhow, bail, ensure, Result};
use bytemuck::Pod;
use wasmtime::{AsContext, Instance, Memory, SharedMemory, Store, Trap, Val, WasmBacktrace};

/// Memory 0 as the strategy holds it.
#[derive(Clone)]
pub(crate) enum Memory0 {
    /// Recreate: one shared memory imported by every per-proof instance.
    Shared(SharedMemory),
    /// In place and baseline: the single instance's own memory.
    Local(Memory),
}

impl Memory0 {
    pub(crate) fn pages<T>(&self, store: &Store<T>) -> u64 {
        match self {
            Memory0::Shared(m) => m.size(),
            Memory0::Local(m) => m.size(store),
        }
    }

    fn bytes(&self, store: impl AsContext) -> (*mut u8, usize) {
        match self {
            Memory0::Shared(m) => (m.data().as_ptr() as *mut u8, m.data().len()),
            Memory0::Local(m) => (m.data_ptr(&store), m.data_size(&store)),
        }
    }
}

/// An instance of the prover for the duration of one call or proof.
///
/// Pointers given to [`Session::read`], [`Session::read_pod`] and the other
/// reads and writes are the guest's own: tagged pointers (at or above the split) address memory 1.
/// Under the view strategies every pointer is read through memory 1 (the
/// view), which is what the guest sees, copy-on-write included.
pub struct Session<'a, T: 'static> {
    pub(crate) store: &'a mut Store<T>,
    pub(crate) instance: Instance,
    pub(crate) memory0: Memory0,
    pub(crate) memory1: Option<Memory>,
    pub(crate) split: Option<u32>,
    /// Memory 1 is a view: memory 0 below the split, scratch at the pointer's own address above.
    pub(crate) view: bool,
}

impl<T: 'static> Session<'_, T> {
    /// Calls export `name`; a trap becomes an error that names it.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        let func = self
            .instance
            .get_func(&mut *self.store, name)
            .ok_or_else(|| anyhow!("the module exports no function `{name}`"))?;
        let mut results = vec![Val::I32(0); func.ty(&*self.store).results().len()];
        func.call(&mut *self.store, args, &mut results).map_err(|e| call_error(name, e))?;
        Ok(results)
    }

    /// The Store, for typed calls and anything else wasmtime offers.
    pub fn store(&mut self) -> &mut Store<T> {
        self.store
    }

    pub fn instance(&self) -> Instance {
        self.instance
    }

    /// Copies `len` bytes at guest pointer `ptr` out of the memory the pointer's tag names.
    pub fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>> {
        self.read_slice(ptr, len)
    }

    /// Copies `bytes` to guest pointer `ptr`.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        self.write_slice(ptr, bytes)
    }

    /// Reads one plain-data value at guest pointer `ptr` (any alignment).
    ///
    /// The bytes are taken as they are: wasm stores little-endian, so on a
    /// big-endian host a multi-byte field needs `from_le`.
    pub fn read_pod<P: Pod>(&mut self, ptr: u32) -> Result<P> {
        let mut value = P::zeroed();
        self.copy_out(ptr, bytemuck::bytes_of_mut(&mut value))?;
        Ok(value)
    }

    /// Reads `len` consecutive values (not bytes) at guest pointer `ptr`.
    pub fn read_slice<P: Pod>(&mut self, ptr: u32, len: u32) -> Result<Vec<P>> {
        let mut values = vec![P::zeroed(); len as usize];
        self.copy_out(ptr, bytemuck::cast_slice_mut(&mut values))?;
        Ok(values)
    }

    /// Writes one plain-data value to guest pointer `ptr`.
    pub fn write_pod<P: Pod>(&mut self, ptr: u32, value: &P) -> Result<()> {
        self.copy_in(ptr, bytemuck::bytes_of(value))
    }

    /// Writes consecutive values to guest pointer `ptr`.
    pub fn write_slice<P: Pod>(&mut self, ptr: u32, values: &[P]) -> Result<()> {
        self.copy_in(ptr, bytemuck::cast_slice(values))
    }

    fn copy_out(&mut self, ptr: u32, out: &mut [u8]) -> Result<()> {
        let len = u32::try_from(out.len()).map_err(|_| anyhow!("{} bytes exceed a 32-bit memory", out.len()))?;
        let (base, size, offset) = self.locate(ptr, len)?;
        // SAFETY: `locate` checked the range against the memory's current size.
        unsafe { std::ptr::copy_nonoverlapping(base.add(offset), out.as_mut_ptr(), out.len()) };
        debug_assert!(offset + out.len() <= size);
        Ok(())
    }

    fn copy_in(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| anyhow!("{} bytes exceed a 32-bit memory", bytes.len()))?;
        let (base, _, offset) = self.locate(ptr, len)?;
        // SAFETY: as in `copy_out`; the guest is not running while the host holds the session.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(offset), bytes.len()) };
        Ok(())
    }

    /// Pages of memory 0 and of memory 1 now.
    /// Under the view strategies memory 1's pages are counted from the split.
    pub fn pages(&self) -> (u64, u64) {
        let memory1 = self.memory1.map_or(0, |m| m.size(&*self.store));
        let below = match (self.view, self.split) {
            (true, Some(split)) => split as u64 / multimem_transform::PAGE,
            _ => 0,
        };
        (self.memory0.pages(self.store), memory1.saturating_sub(below))
    }

    /// The ephemeral heap's figures now (see [`crate::HeapFigures`]); `None` when memory 1 holds no heap.
    pub fn heap(&self) -> Option<crate::HeapFigures> {
        crate::heap::figures(self.memory1_scratch()?)
    }

    /// The escapes logged so far in this proof (modules transformed with `--check-escapes`).
    pub fn escapes(&self) -> Vec<crate::Escape> {
        self.memory1_scratch().map(crate::heap::escapes).unwrap_or_default()
    }

    /// Memory 1's bytes from offset 0 of its scratch (at the split in a view).
    fn memory1_scratch(&self) -> Option<&[u8]> {
        let m1 = self.memory1?;
        let data = m1.data(&*self.store);
        match (self.view, self.split) {
            (true, Some(split)) => data.get(split as usize..),
            _ => Some(data),
        }
    }

    fn locate(&self, ptr: u32, len: u32) -> Result<(*mut u8, usize, usize)> {
        self.memories().locate(&*self.store, ptr, len)
    }

    /// What a host function called during this session reaches (see [`crate::GuestMemory`]).
    pub(crate) fn memories(&self) -> Memories {
        Memories { memory0: self.memory0.clone(), memory1: self.memory1, split: self.split, view: self.view }
    }
}

/// The memories of one call or proof, and how a guest pointer picks one.
#[derive(Clone)]
pub(crate) struct Memories {
    pub(crate) memory0: Memory0,
    pub(crate) memory1: Option<Memory>,
    pub(crate) split: Option<u32>,
    pub(crate) view: bool,
}

impl Memories {
    /// Base, size and offset of `len` bytes at guest pointer `ptr`, checked.
    pub(crate) fn locate(&self, store: impl AsContext, ptr: u32, len: u32) -> Result<(*mut u8, usize, usize)> {
        let store = store.as_context();
        let (base, size, offset) = match (self.split, self.memory1) {
            // Below the split only memory 0's pages are mapped: the rest up to the split is a hole.
            (Some(split), Some(m1)) if self.view => {
                let size = if ptr < split { self.memory0.bytes(&store).1 } else { m1.data_size(&store) };
                (m1.data_ptr(&store), size, ptr)
            }
            (Some(split), Some(m1)) if ptr >= split => (m1.data_ptr(&store), m1.data_size(&store), ptr - split),
            (Some(split), None) if ptr >= split => bail!("pointer {ptr:#x} is in memory 1, which this call does not have"),
            _ => {
                let (base, size) = self.memory0.bytes(&store);
                (base, size, ptr)
            }
        };
        let end = offset as usize + len as usize;
        ensure!(end <= size, "{len} bytes at guest pointer {ptr:#x} are out of bounds");
        if let Some(split) = self.split {
            ensure!(ptr >= split || ptr as u64 + len as u64 <= split as u64, "{len} bytes at {ptr:#x} cross the split");
        }
        Ok((base, size, offset as usize))
    }
}

/// Turns a failed call into an error naming the export, the trap and the
/// guest function it happened in; a trap stays a `Trap` for `downcast_ref`.
pub(crate) fn call_error(name: &str, e: wasmtime::Error) -> anyhow::Error {
    let Some(trap) = e.downcast_ref::<Trap>() else { return anyhow!("`{name}` failed: {e:#}") };
    let place = e
        .downcast_ref::<WasmBacktrace>()
        .and_then(|bt| bt.frames().first().and_then(|f| f.func_name().map(|n| format!("{:#}", rustc_demangle::demangle(n)))))
        .map(|f| format!(" in {f}"))
        .unwrap_or_default();
    // The trap stays underneath, for `downcast_ref::<Trap>()`.
    anyhow::Error::new(*trap).context(format!("`{name}` trapped: {trap}{place}"))
}
