//! Where memory 1 is and how it grows: the wasm imports, or a simulation in tests.

/// What the allocator needs from its environment.
///
/// # Safety
/// `ephemeral_base()..ephemeral_base() + ephemeral_size()` must be memory the
/// allocator may read and write, and growing must keep the base in place.
pub unsafe trait Platform: Copy + Send + Sync + 'static {
    /// Address at which offset 0 of memory 1 appears (the split, on wasm).
    fn ephemeral_base(self) -> usize;
    /// Current size of memory 1 in bytes.
    fn ephemeral_size(self) -> usize;
    /// Grows memory 1 by `pages`; the previous size in pages, or `None` if it cannot grow.
    fn ephemeral_grow(self, pages: usize) -> Option<usize>;
    /// Whether a proof is running (memory 1 is live and allocations go there).
    fn proof_active(self) -> bool;
    /// Whether `addr` is a tagged (memory 1) address.
    fn is_ephemeral(self, addr: usize) -> bool;
}

/// The real thing: a multimem-transformed (or untransformed) wasm32 module.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasm;

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "multimem")]
    extern "C" {
        pub fn ephemeral_size() -> i32;
        pub fn ephemeral_grow(pages: i32) -> i32;
        pub fn proof_active() -> i32;
        pub fn split() -> i32;
    }
}

#[cfg(target_arch = "wasm32")]
unsafe impl Platform for Wasm {
    #[inline]
    fn ephemeral_base(self) -> usize {
        unsafe { imports::split() as u32 as usize }
    }
    #[inline]
    fn ephemeral_size(self) -> usize {
        unsafe { imports::ephemeral_size() as u32 as usize * crate::PAGE }
    }
    #[inline]
    fn ephemeral_grow(self, pages: usize) -> Option<usize> {
        let old = unsafe { imports::ephemeral_grow(i32::try_from(pages).ok()?) };
        (old >= 0).then_some(old as usize)
    }
    #[inline]
    fn proof_active(self) -> bool {
        unsafe { imports::proof_active() != 0 }
    }
    #[inline]
    fn is_ephemeral(self, addr: usize) -> bool {
        addr >= self.ephemeral_base()
    }
}
