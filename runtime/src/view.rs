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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use anyhow::{bail, ensure, Context, Result};
use wasmtime::{LinearMemory, MemoryCreator, MemoryType};

/// Memory 0's pages, and every live mapping of them.
pub(crate) struct Persistent {
    fd: OwnedFd,
    state: Mutex<State>,
    /// Fork proofs' copy-on-write mappings alive now (they are not aliases).
    forks: AtomicUsize,
}

/// Every memory 0 alive in this process, for [`resident`].
static LIVE: Mutex<Vec<Weak<Persistent>>> = Mutex::new(Vec::new());

/// Bytes of every live memory 0 in RAM (or swap), and whether any of them is
/// mapped now (then the process's RSS counts some of those pages too).
pub(crate) fn resident() -> (u64, bool) {
    let mut live = LIVE.lock().unwrap();
    live.retain(|p| p.strong_count() > 0);
    let (mut bytes, mut mapped) = (0, false);
    for persistent in live.iter().filter_map(Weak::upgrade) {
        // SAFETY: fstat into a zeroed struct, on an owned descriptor.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(persistent.fd.as_raw_fd(), &mut stat) } == 0 {
            bytes += stat.st_blocks as u64 * 512;
        }
        mapped |= !persistent.state.lock().unwrap().aliases.is_empty() || persistent.forks.load(Ordering::Relaxed) > 0;
    }
    (bytes, mapped)
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
        let persistent = Arc::new(Persistent { fd, state: Mutex::new(State { bytes, aliases: Vec::new(), next_id: 0 }), forks: AtomicUsize::new(0) });
        LIVE.lock().unwrap().push(Arc::downgrade(&persistent));
        Ok(persistent)
    }

    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().unwrap().bytes
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

    /// Maps memory 0 copy-on-write at `base`, as it is now, without following
    /// its growth; returns its size.
    fn map_private_once(&self, base: *mut u8) -> Result<usize> {
        let state = self.state.lock().unwrap();
        self.map_range(Alias { id: u64::MAX, base: base as usize, private: true }, 0, state.bytes)?;
        self.forks.fetch_add(1, Ordering::Relaxed);
        Ok(state.bytes)
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
    reservation: Arc<Reservation>,
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
    /// A fork proof's memory 0: its pages are the low part of its view's
    /// reservation, `pages` (memory 0 mapped copy-on-write); growing opens
    /// fresh pages there, in this proof only. Its own reservation stays
    /// inaccessible: wasmtime finds a fault's memory by address and requires
    /// an instance's memories not to overlap, and the view form reaches memory
    /// 0 only by `memory.size`/`memory.grow` (its exports name the view).
    Fork { persistent: Arc<Persistent>, pages: Arc<Reservation> },
    /// A fork proof's view: the reservation that holds its memory 0's pages.
    ForkView,
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
            Maps::Fork { pages, .. } => pages.open(self.bytes, new_size),
            Maps::View { .. } | Maps::ForkView | Maps::Plain => self.reservation.open(self.bytes, new_size),
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
        if let Maps::Fork { persistent, .. } = &self.maps {
            persistent.forks.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// How an instance's view maps memory 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mapping {
    /// Shared: writes reach memory 0 (setup, and proofs under `View`).
    Shared,
    /// Copy-on-write: writes vanish with the instance; growth still grows memory 0.
    Private,
    /// Copy-on-write, and memory 0's growth is the instance's own (see `crate::fork`).
    Fork,
}

struct Pending {
    persistent: Arc<Persistent>,
    mapping: Mapping,
    created: u8,
    /// A fork instance's reservation, made with its memory 0, shared with its view.
    fork: Option<Arc<Reservation>>,
}

/// Says, for the instantiation this thread runs next, which memory 0 the
/// view-form module gets and how its view maps it. Dropped after instantiating.
pub(crate) struct Instantiation(());

impl Instantiation {
    pub(crate) fn begin(persistent: &Arc<Persistent>, mapping: Mapping) -> Self {
        PENDING.with(|p| *p.borrow_mut() = Some(Pending { persistent: persistent.clone(), mapping, created: 0, fork: None }));
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
        let made = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let Some(pending) = p.as_mut() else { return plain_memory(minimum, maximum, reserved, guard) };
            pending.created += 1;
            let persistent = pending.persistent.clone();
            match (pending.created, pending.mapping) {
                (1, Mapping::Fork) => fork_memory0(persistent, &mut pending.fork, reserved, guard),
                (1, _) => persistent_memory(persistent, minimum, reserved, guard),
                (2, Mapping::Fork) => fork_view(pending.fork.take(), minimum, reserved),
                (2, mapping) => view_memory(persistent, mapping == Mapping::Private, minimum, reserved, guard),
                _ => plain_memory(minimum, maximum, reserved, guard),
            }
        });
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
    let reservation = Arc::new(Reservation::new(capacity + guard)?);
    persistent.grow_to(minimum)?;
    let alias = persistent.map_at(reservation.base, false)?;
    let bytes = persistent.bytes();
    Ok(Box::new(ReservedMemory { reservation, bytes, capacity, maps: Maps::Persistent { persistent, alias } }))
}

fn view_memory(persistent: Arc<Persistent>, private: bool, minimum: usize, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = full_reservation(reserved)?;
    let reservation = Arc::new(Reservation::new(capacity + guard)?);
    let alias = persistent.map_at(reservation.base, private)?;
    Ok(Box::new(ReservedMemory { reservation, bytes: minimum, capacity, maps: Maps::View { persistent, alias } }))
}

/// A fork proof's memory 0: memory 0 mapped copy-on-write at the start of
/// the reservation its view will use, and an empty reservation of its own as
/// its address. Not an alias: memory 0 does not grow during a proof (setup
/// needs `&mut Prover`), and this proof's growth must not reach memory 0.
fn fork_memory0(persistent: Arc<Persistent>, fork: &mut Option<Arc<Reservation>>, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = full_reservation(reserved)?;
    let pages = Arc::new(Reservation::new(capacity + guard)?);
    let bytes = persistent.map_private_once(pages.base)?;
    *fork = Some(pages.clone());
    let reservation = Arc::new(Reservation::new(capacity + guard)?);
    Ok(Box::new(ReservedMemory { reservation, bytes, capacity, maps: Maps::Fork { persistent, pages } }))
}

fn fork_view(reservation: Option<Arc<Reservation>>, minimum: usize, reserved: Option<usize>) -> Result<Box<dyn LinearMemory>> {
    let capacity = full_reservation(reserved)?;
    let reservation = reservation.context("a fork instance's view came before its memory 0")?;
    Ok(Box::new(ReservedMemory { reservation, bytes: minimum, capacity, maps: Maps::ForkView }))
}

fn plain_memory(minimum: usize, maximum: Option<usize>, reserved: Option<usize>, guard: usize) -> Result<Box<dyn LinearMemory>> {
    let capacity = reserved.unwrap_or(maximum.unwrap_or(1 << 32)).max(minimum);
    let reservation = Arc::new(Reservation::new(capacity + guard)?);
    reservation.open(0, minimum)?;
    Ok(Box::new(ReservedMemory { reservation, bytes: minimum, capacity, maps: Maps::Plain }))
}
