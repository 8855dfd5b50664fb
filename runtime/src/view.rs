//! Host-assisted memory 1 (Linux): a view whose range below the split maps memory 0's pages.
//!
//! Memory 0's bytes live in a memfd that outlives every instance. Each
//! instance of a view-form module gets, through the engine's memory creator,
//! a memory 0 that maps the memfd and a memory 1 (a 4 GiB reservation) that
//! maps it again below the split and takes fresh anonymous pages above it.
//! Dropping the instance unmaps both, which gives the scratch back to the OS.
//! Mapped private, the view is copy-on-write: what a proof writes to
//! persistent data vanishes with it (fork() semantics).
//!
//! The creator is engine-wide and learns nothing but a memory's type, so the
//! instantiating thread says what it is creating through [`Instantiation`].

use std::cell::RefCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use anyhow::{bail, ensure, Result};
use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Memory 0's pages, and every live mapping of them.
pub(crate) struct Persistent {
    fd: OwnedFd,
    state: Mutex<State>,
}

struct State {
    bytes: usize,
    aliases: Vec<Alias>,
    next_id: u64,
}

/// One mapping of memory 0's pages: an instance's memory 0 or the low part of its view.
#[derive(Clone, Copy)]
struct Alias {
    id: u64,
    base: usize,
    private: bool,
}

impl Persistent {
    /// A memory 0 of `bytes` zeroes.
    pub(crate) fn new(bytes: usize) -> Result<Arc<Self>> {
        // SAFETY: plain syscalls; the descriptor is owned from here on.
        let fd = unsafe { libc::memfd_create(c"multimem-persistent".as_ptr(), libc::MFD_CLOEXEC) };
        ensure!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        truncate(&fd, bytes)?;
        Ok(Arc::new(Persistent { fd, state: Mutex::new(State { bytes, aliases: Vec::new(), next_id: 0 }) }))
    }

    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().unwrap().bytes
    }

    /// Bytes of memory 0 in RAM that no mapping of this process counts: the
    /// memfd's pages while no instance maps them (between calls), else 0
    /// (a mapped page counts in the process's RSS once touched through it).
    pub(crate) fn unmapped_resident_bytes(&self) -> u64 {
        if !self.state.lock().unwrap().aliases.is_empty() {
            return 0;
        }
        // SAFETY: fstat on our own descriptor into a zeroed struct.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::fstat(self.fd.as_raw_fd(), &mut stat) };
        // st_blocks counts the shmem pages the file holds, in 512-byte units.
        if rc == 0 { stat.st_blocks as u64 * 512 } else { 0 }
    }

    /// Writes `data` at `offset` (memory 0's initial contents, before any instance runs).
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        ensure!(offset + data.len() <= self.bytes(), "data segment at {offset:#x} is out of bounds of memory 0");
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            // SAFETY: writes through the descriptor, from a live slice.
            let n = unsafe { libc::pwrite(self.fd.as_raw_fd(), rest.as_ptr().cast(), rest.len(), (offset + done) as libc::off_t) };
            ensure!(n > 0, "writing memory 0: {}", std::io::Error::last_os_error());
            done += n as usize;
        }
        Ok(())
    }

    /// Maps all of memory 0 at `base` (inside a reservation) and keeps it mapped as memory 0 grows.
    fn map_at(&self, base: *mut u8, private: bool) -> Result<u64> {
        let mut state = self.state.lock().unwrap();
        let alias = Alias { id: state.next_id, base: base as usize, private };
        self.map_range(alias, 0, state.bytes)?;
        state.next_id += 1;
        state.aliases.push(alias);
        Ok(alias.id)
    }

    /// Stops growing the mapping `id`; its owner unmaps it.
    fn forget(&self, id: u64) {
        self.state.lock().unwrap().aliases.retain(|a| a.id != id);
    }

    /// Grows memory 0 to `bytes`, in every mapping at once.
    fn grow_to(&self, bytes: usize) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let old = state.bytes;
        if bytes <= old {
            return Ok(());
        }
        truncate(&self.fd, bytes)?;
        for alias in &state.aliases {
            self.map_range(*alias, old, bytes)?;
        }
        state.bytes = bytes;
        Ok(())
    }

    fn map_range(&self, alias: Alias, from: usize, to: usize) -> Result<()> {
        if to == from {
            return Ok(());
        }
        let kind = if alias.private { libc::MAP_PRIVATE } else { libc::MAP_SHARED };
        // SAFETY: the range lies inside the alias's reservation (memory 0 never
        // exceeds the split), which its owner keeps until after `forget`.
        let mapped = unsafe {
            libc::mmap(
                (alias.base + from) as *mut libc::c_void,
                to - from,
                libc::PROT_READ | libc::PROT_WRITE,
                kind | libc::MAP_FIXED,
                self.fd.as_raw_fd(),
                from as libc::off_t,
            )
        };
        ensure!(mapped != libc::MAP_FAILED, "mapping memory 0: {}", std::io::Error::last_os_error());
        Ok(())
    }
}

fn truncate(fd: &OwnedFd, bytes: usize) -> Result<()> {
    // SAFETY: plain syscall on an owned descriptor.
    let rc = unsafe { libc::ftruncate(fd.as_raw_fd(), bytes as libc::off_t) };
    ensure!(rc == 0, "resizing memory 0: {}", std::io::Error::last_os_error());
    Ok(())
}

/// Address space reserved for one memory: inaccessible until mapped or protected otherwise.
struct Reservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the reservation is plain address space; wasmtime synchronises access to memories.
unsafe impl Send for Reservation {}
unsafe impl Sync for Reservation {}

impl Reservation {
    fn new(len: usize) -> Result<Self> {
        // SAFETY: a fresh anonymous mapping, not touching anything else.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        ensure!(base != libc::MAP_FAILED, "reserving {len} bytes: {}", std::io::Error::last_os_error());
        Ok(Reservation { base: base.cast(), len })
    }

    /// Makes `[from, to)` readable and writable: fresh zero pages.
    fn open(&self, from: usize, to: usize) -> Result<()> {
        if to == from {
            return Ok(());
        }
        // SAFETY: inside the reservation.
        let rc = unsafe { libc::mprotect(self.base.add(from).cast(), to - from, libc::PROT_READ | libc::PROT_WRITE) };
        ensure!(rc == 0, "growing memory 1: {}", std::io::Error::last_os_error());
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: our own mapping; wasmtime has dropped the memory that used it.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// A memory in a reservation of its own, for a view engine.
struct ReservedMemory {
    reservation: Reservation,
    bytes: usize,
    capacity: usize,
    maps: Maps,
}

/// What a [`ReservedMemory`] maps, which decides how it grows.
enum Maps {
    /// A view-form instance's memory 0: the memfd, mapped; growing grows the
    /// memfd, and with it every alias.
    Persistent { persistent: Arc<Persistent>, alias: u64 },
    /// A view-form instance's memory 1: memory 0 below the split, scratch
    /// above, opened as it grows.
    View { persistent: Arc<Persistent>, alias: u64 },
    /// Any other memory created on a view engine: anonymous pages.
    Plain,
}

unsafe impl LinearMemory for ReservedMemory {
    fn byte_size(&self) -> usize {
        self.bytes
    }
    fn byte_capacity(&self) -> usize {
        self.capacity
    }
    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        wasmtime::ensure!(new_size <= self.capacity, "memory cannot grow past its reservation");
        match &self.maps {
            Maps::Persistent { persistent, .. } => persistent.grow_to(new_size),
            Maps::View { .. } | Maps::Plain => self.reservation.open(self.bytes, new_size),
        }
        .map_err(to_wasmtime)?;
        self.bytes = new_size;
        Ok(())
    }
    fn as_ptr(&self) -> *mut u8 {
        self.reservation.base
    }
}

fn to_wasmtime(e: anyhow::Error) -> wasmtime::Error {
    wasmtime::format_err!("{e:#}")
}

impl Drop for ReservedMemory {
    fn drop(&mut self) {
        if let Maps::Persistent { persistent, alias } | Maps::View { persistent, alias } = &self.maps {
            persistent.forget(*alias);
        }
    }
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

struct Pending {
    persistent: Arc<Persistent>,
    private: bool,
    created: u8,
}

/// Says, for the instantiation this thread runs next, which memory 0 the
/// view-form module gets and how its view maps it. Dropped after instantiating.
pub(crate) struct Instantiation(());

impl Instantiation {
    pub(crate) fn begin(persistent: &Arc<Persistent>, private: bool) -> Self {
        PENDING.with(|p| *p.borrow_mut() = Some(Pending { persistent: persistent.clone(), private, created: 0 }));
        Instantiation(())
    }

    /// Fails unless the engine's creator made both memories (the engine came from `engine_view`).
    pub(crate) fn finish(self) -> Result<()> {
        let created = PENDING.with(|p| p.borrow().as_ref().map_or(0, |p| p.created));
        ensure!(created == 2, "the view strategies need an engine from multimem_runtime::engine_view()");
        Ok(())
    }
}

impl Drop for Instantiation {
    fn drop(&mut self) {
        PENDING.with(|p| *p.borrow_mut() = None);
    }
}

/// The engine-wide memory creator of [`crate::engine_view`].
pub(crate) struct ViewCreator;

unsafe impl MemoryCreator for ViewCreator {
    fn new_memory(
        &self,
        _ty: MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved: Option<usize>,
        guard: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let role = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let pending = p.as_mut()?;
            pending.created += 1;
            Some((pending.created, pending.persistent.clone(), pending.private))
        });
        let made = match role {
            Some((1, persistent, _)) => persistent_memory(persistent, minimum, reserved, guard),
            Some((2, persistent, private)) => view_memory(persistent, private, minimum, reserved, guard),
            _ => plain_memory(minimum, maximum, reserved, guard),
        };
        made.map_err(|e| format!("{e:#}"))
    }
}

/// Compiled code leaves out bounds checks for a 4 GiB reservation; the view
/// relies on that (its hole below the split must fault, not be checked).
fn full_reservation(reserved: Option<usize>) -> Result<usize> {
    match reserved {
        Some(r) if r >= 1 << 32 => Ok(r),
        _ => bail!("the view strategies need wasmtime's 4 GiB memory reservation (Config::memory_reservation)"),
    }
}

fn persistent_memory(persistent: Arc<Persistent>, minimum: usize, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = full_reservation(reserved)?;
    let reservation = Reservation::new(capacity + guard)?;
    persistent.grow_to(minimum)?;
    let alias = persistent.map_at(reservation.base, false)?;
    let bytes = persistent.bytes();
    Ok(Box::new(ReservedMemory { reservation, bytes, capacity, maps: Maps::Persistent { persistent, alias } }))
}

fn view_memory(persistent: Arc<Persistent>, private: bool, minimum: usize, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = full_reservation(reserved)?;
    let reservation = Reservation::new(capacity + guard)?;
    let alias = persistent.map_at(reservation.base, private)?;
    Ok(Box::new(ReservedMemory { reservation, bytes: minimum, capacity, maps: Maps::View { persistent, alias } }))
}

fn plain_memory(minimum: usize, maximum: Option<usize>, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = reserved.unwrap_or(maximum.unwrap_or(1 << 32)).max(minimum);
    let reservation = Reservation::new(capacity + guard)?;
    reservation.open(0, minimum)?;
    Ok(Box::new(ReservedMemory { reservation, bytes: minimum, capacity, maps: Maps::Plain }))
}
