//! The ephemeral heap: dlmalloc whose state and segments all live in memory 1.
//!
//! Memory 1 starts with the header every multimem heap shares with hosts (the
//! layout is `transform/src/heap_abi.rs`, included below: magic, base, top,
//! live and peak bytes, escape log), then this allocator's dlmalloc state;
//! segments start after the header. A memory 1 without the magic (fresh, or
//! zeroed in place) is a fresh heap, so dropping memory 1 is the only reset there is.

use core::marker::PhantomData;
use core::mem::size_of;

use dlmalloc::{Allocator, Dlmalloc};

use crate::{Platform, PAGE};

/// The header layout, defined once for the SDK, the transformer's routed heap and hosts.
#[allow(dead_code)]
pub mod abi {
    include!("../../../transform/src/heap_abi.rs");
}
use abi::*;

#[repr(C)]
struct Header<P: Platform> {
    /// The shared fields, by `abi::HEAP_*_AT / 4`.
    common: [u32; HEAP_PRIVATE_AT as usize / 4],
    heap: Dlmalloc<Segments<P>>,
}

/// Bytes at the start of memory 1 that belong to the header (and the escape log).
pub const HEADER_BYTES: usize = HEAP_HEADER_BYTES as usize;

fn field<P: Platform>(p: P, at: u32) -> *mut u32 {
    unsafe { (*header::<P>(p)).common.as_mut_ptr().add(at as usize / 4) }
}

/// The system allocator dlmalloc sees: a break pointer in memory 1 that grows
/// memory 1 when it runs past its end and reuses pages already present.
#[derive(Clone, Copy)]
struct Segments<P>(P);

unsafe impl<P: Platform> Allocator for Segments<P> {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let p = self.0;
        let top = field(p, HEAP_TOP_AT);
        let start = unsafe { *top } as usize;
        let Some(end) = start.checked_add(size).filter(|&e| e <= u32::MAX as usize) else { return (core::ptr::null_mut(), 0, 0) };
        let have = p.ephemeral_size();
        if end > have && p.ephemeral_grow((end - have).div_ceil(PAGE)).is_none() {
            return (core::ptr::null_mut(), 0, 0);
        }
        unsafe { *top = end as u32 };
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
        const { assert!(size_of::<Header<P>>() <= ESCAPE_LOG_AT as usize) };
        if p.ephemeral_size() < HEADER_BYTES && p.ephemeral_grow(HEADER_BYTES.div_ceil(PAGE)).is_none() {
            return None;
        }
        let h = header::<P>(p);
        if (*h).common[0] != HEAP_MAGIC {
            let mut common = [0; HEAP_PRIVATE_AT as usize / 4];
            common[(HEAP_MAGIC_AT / 4) as usize] = HEAP_MAGIC;
            common[(HEAP_KIND_AT / 4) as usize] = HEAP_KIND_SDK;
            common[(HEAP_BASE_AT / 4) as usize] = HEAP_HEADER_BYTES;
            common[(HEAP_TOP_AT / 4) as usize] = HEAP_HEADER_BYTES;
            h.write(Header { common, heap: Dlmalloc::new_with_allocator(Segments(p)) });
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

    /// Reads a header field; 0 when memory 1 holds no heap.
    pub fn header_field(p: P, at: u32) -> u32 {
        if p.ephemeral_size() < HEADER_BYTES {
            return 0;
        }
        unsafe {
            if *field(p, HEAP_MAGIC_AT) == HEAP_MAGIC { *field(p, at) } else { 0 }
        }
    }

    /// Bytes of memory 1 the heap spans (its high-water mark).
    pub fn high_water(p: P) -> usize {
        Self::header_field(p, HEAP_TOP_AT).saturating_sub(Self::header_field(p, HEAP_BASE_AT)) as usize
    }

    /// Counts bytes handed out (`grown`) and given back (`shrunk`) in the header's live and peak fields.
    pub fn count(p: P, grown: usize, shrunk: usize) {
        if Self::header_field(p, HEAP_MAGIC_AT) != HEAP_MAGIC {
            return;
        }
        unsafe {
            let live = (*field(p, HEAP_LIVE_AT)).wrapping_add(grown as u32).wrapping_sub(shrunk as u32);
            *field(p, HEAP_LIVE_AT) = live;
            if live > *field(p, HEAP_PEAK_AT) {
                *field(p, HEAP_PEAK_AT) = live;
            }
            if grown > shrunk {
                *field(p, HEAP_ALLOCATIONS_AT) += 1;
            }
        }
    }

    /// Live and peak live bytes of the heap in the current memory 1.
    pub fn stats(p: P) -> (usize, usize) {
        (Self::header_field(p, HEAP_LIVE_AT) as usize, Self::header_field(p, HEAP_PEAK_AT) as usize)
    }

    /// Starts the live and peak counts afresh.
    pub fn reset_stats(p: P) {
        if Self::header_field(p, HEAP_MAGIC_AT) == HEAP_MAGIC {
            unsafe {
                *field(p, HEAP_LIVE_AT) = 0;
                *field(p, HEAP_PEAK_AT) = 0;
            }
        }
    }
}
