//! The global allocator: routes each request to memory 0 or memory 1.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dlmalloc::Dlmalloc;

use crate::{Ephemeral, Platform};

/// Depth of [`in_persistent_scope`] calls; while above zero, proofs allocate in memory 0.
static PERSISTENT_SCOPE: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with allocations going to memory 0 even during a proof: for
/// things that must outlive the proof (a cache). Objects made here must not
/// point into memory 1, which is gone after the proof.
pub fn in_persistent_scope<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            PERSISTENT_SCOPE.fetch_sub(1, Ordering::Relaxed);
        }
    }
    PERSISTENT_SCOPE.fetch_add(1, Ordering::Relaxed);
    let _leave = Leave;
    f()
}

/// Outside a proof: dlmalloc in memory 0. During a proof: the ephemeral heap
/// in memory 1, returning tagged pointers. `dealloc` and `realloc` go by the
/// pointer's tag, so either kind of object may be freed at any time; an
/// object keeps the memory it was born in.
///
/// An ephemeral pointer freed or grown when no proof is active belongs to a
/// memory 1 that is gone: `dealloc` ignores it, `realloc` fails.
pub struct MultimemAlloc<P: Platform> {
    platform: P,
    lock: AtomicBool,
    persistent: UnsafeCell<Dlmalloc>,
}

// Access to `persistent` (and to the ephemeral heap) is serialised by `lock`.
unsafe impl<P: Platform> Sync for MultimemAlloc<P> {}

impl<P: Platform> MultimemAlloc<P> {
    pub const fn new(platform: P) -> Self {
        Self {
            platform,
            lock: AtomicBool::new(false),
            persistent: UnsafeCell::new(Dlmalloc::new()),
        }
    }

    /// Live and peak live bytes requested from the ephemeral heap (kept in memory 1's header, so a fresh memory 1 starts at zero).
    pub fn ephemeral_stats(&self) -> (usize, usize) {
        Ephemeral::stats(self.platform)
    }

    /// Starts counting afresh.
    pub fn reset_ephemeral_stats(&self) {
        Ephemeral::reset_stats(self.platform)
    }

    /// Bytes of memory 1 the ephemeral heap spans (its high-water mark).
    pub fn ephemeral_high_water(&self) -> usize {
        Ephemeral::high_water(self.platform)
    }

    fn count(&self, grown: usize, shrunk: usize) {
        Ephemeral::count(self.platform, grown, shrunk)
    }

    /// Whether new allocations go to memory 1 now.
    pub fn routes_to_ephemeral(&self) -> bool {
        self.platform.proof_active() && PERSISTENT_SCOPE.load(Ordering::Relaxed) == 0
    }

    /// A new object in the memory the mode selects.
    unsafe fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let (p, size, align) = (self.platform, layout.size(), layout.align());
        self.locked(|persistent| {
            if !self.routes_to_ephemeral() {
                return if zeroed { persistent.calloc(size, align) } else { persistent.malloc(size, align) };
            }
            let ptr = if zeroed { Ephemeral::calloc(p, size, align) } else { Ephemeral::malloc(p, size, align) };
            if !ptr.is_null() {
                self.count(size, 0);
            }
            ptr
        })
    }

    fn locked<R>(&self, f: impl FnOnce(&mut Dlmalloc) -> R) -> R {
        // Without threads there is one caller at a time, and a call that traps
        // (wasm does not unwind) would leave a lock in memory 0 taken for good:
        // every later allocation would spin forever. So no lock there.
        let threads = !cfg!(target_arch = "wasm32") || cfg!(target_feature = "atomics");
        if threads {
            while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
                core::hint::spin_loop();
            }
        }
        let r = f(unsafe { &mut *self.persistent.get() });
        if threads {
            self.lock.store(false, Ordering::Release);
        }
        r
    }
}

unsafe impl<P: Platform> GlobalAlloc for MultimemAlloc<P> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout, false)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout, true)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let p = self.platform;
        self.locked(|persistent| {
            if !p.is_ephemeral(ptr as usize) {
                persistent.free(ptr, layout.size(), layout.align())
            } else if p.proof_active() {
                Ephemeral::free(p, ptr, layout.size(), layout.align());
                self.count(0, layout.size());
            }
        })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.platform;
        self.locked(|persistent| {
            if !p.is_ephemeral(ptr as usize) {
                persistent.realloc(ptr, layout.size(), layout.align(), new_size)
            } else if p.proof_active() {
                let new = Ephemeral::realloc(p, ptr, layout.size(), layout.align(), new_size);
                if !new.is_null() {
                    self.count(new_size, layout.size());
                }
                new
            } else {
                core::ptr::null_mut()
            }
        })
    }
}
