//! The ephemeral heap: dlmalloc whose state and segments all live in memory 1.
//!
//! A header at offset 0 of memory 1 holds a magic word, the break (`top`) and
//! the dlmalloc state. A memory 1 without the magic (fresh, or zeroed in
//! place) is a fresh heap, so dropping memory 1 is the only reset there is.

use core::marker::PhantomData;
use core::mem::size_of;

use dlmalloc::{Allocator, Dlmalloc};

use crate::{Platform, PAGE};

const MAGIC: u64 = u64::from_le_bytes(*b"mmephem1");

#[repr(C)]
struct Header<P: Platform> {
    magic: u64,
    /// Bytes of memory 1 handed out so far (header included).
    top: usize,
    heap: Dlmalloc<Segments<P>>,
}

/// Bytes at the start of memory 1 that belong to the header.
pub const HEADER_BYTES: usize = 4096;

/// The system allocator dlmalloc sees: a break pointer in memory 1 that grows
/// memory 1 when it runs past its end and reuses pages already present.
#[derive(Clone, Copy)]
struct Segments<P>(P);

unsafe impl<P: Platform> Allocator for Segments<P> {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let p = self.0;
        let top = unsafe { &mut (*header::<P>(p)).top };
        let Some(end) = top.checked_add(size) else { return (core::ptr::null_mut(), 0, 0) };
        let have = p.ephemeral_size();
        if end > have && p.ephemeral_grow((end - have).div_ceil(PAGE)).is_none() {
            return (core::ptr::null_mut(), 0, 0);
        }
        let start = *top;
        *top = end;
        ((p.ephemeral_base() + start) as *mut u8, size, 0)
    }
    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        core::ptr::null_mut()
    }
    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }
    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }
    fn can_release_part(&self, _: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        true
    }
    fn page_size(&self) -> usize {
        PAGE
    }
}

fn header<P: Platform>(p: P) -> *mut Header<P> {
    p.ephemeral_base() as *mut Header<P>
}

/// The ephemeral heap of platform `P`. Callers serialise access.
pub struct Ephemeral<P>(PhantomData<P>);

impl<P: Platform> Ephemeral<P> {
    /// The heap in the current memory 1, initialising it if memory 1 is fresh.
    /// `None` when memory 1 cannot even hold the header.
    ///
    /// # Safety
    /// No other reference to the heap may be live.
    unsafe fn heap<'a>(p: P) -> Option<&'a mut Dlmalloc<Segments<P>>> {
        const { assert!(size_of::<Header<P>>() <= HEADER_BYTES) };
        if p.ephemeral_size() < HEADER_BYTES && p.ephemeral_grow(HEADER_BYTES.div_ceil(PAGE)).is_none() {
            return None;
        }
        let h = header::<P>(p);
        if (*h).magic != MAGIC {
            h.write(Header { magic: MAGIC, top: HEADER_BYTES, heap: Dlmalloc::new_with_allocator(Segments(p)) });
        }
        Some(&mut (*h).heap)
    }

    /// # Safety
    /// As `GlobalAlloc::alloc`; access serialised by the caller.
    pub unsafe fn malloc(p: P, size: usize, align: usize) -> *mut u8 {
        match Self::heap(p) {
            Some(h) => h.malloc(size, align),
            None => core::ptr::null_mut(),
        }
    }

    /// # Safety
    /// As `GlobalAlloc::alloc_zeroed`.
    pub unsafe fn calloc(p: P, size: usize, align: usize) -> *mut u8 {
        match Self::heap(p) {
            Some(h) => h.calloc(size, align),
            None => core::ptr::null_mut(),
        }
    }

    /// # Safety
    /// `ptr` came from this heap in the current memory 1.
    pub unsafe fn free(p: P, ptr: *mut u8, size: usize, align: usize) {
        if let Some(h) = Self::heap(p) {
            h.free(ptr, size, align)
        }
    }

    /// # Safety
    /// `ptr` came from this heap in the current memory 1. Null when memory 1 cannot grow.
    pub unsafe fn realloc(p: P, ptr: *mut u8, old: usize, align: usize, new: usize) -> *mut u8 {
        match Self::heap(p) {
            Some(h) => h.realloc(ptr, old, align, new),
            None => core::ptr::null_mut(),
        }
    }

    /// Bytes of memory 1 the heap has taken so far (its high-water mark).
    pub fn high_water(p: P) -> usize {
        if p.ephemeral_size() < HEADER_BYTES {
            return 0;
        }
        let h = header::<P>(p);
        unsafe { if (*h).magic == MAGIC { (*h).top } else { 0 } }
    }
}
