//! The C ABI a host drives (wasm32 only). Single-threaded, like the guest.
//!
//! | export | meaning |
//! |---|---|
//! | `setup(constraints) -> status` | keys for that size, selected for later proofs |
//! | `prove(seed: u64) -> status` | a proof; bytes at `proof_ptr()`, `proof_len()` until the proof ends |
//! | `verify(ptr, len) -> 1 / 0 / status` | checks proof bytes the host put in memory 0 |
//! | `set_leak(bytes)`, `set_fail(flag)` | workload knobs |
//! | `alloc(len) -> ptr`, `dealloc(ptr, len)` | buffers for the host |
//! | `ephemeral_peak_live()`, `ephemeral_high_water()` | memory 1 figures of the last proof (0 without the SDK) |
//!
//! A status is 0 for success or a negative [`crate::Error::code`].
#![cfg(target_arch = "wasm32")]

use core::cell::UnsafeCell;

use crate::Prover;

/// With the SDK: its routing allocator, proof-time allocations in memory 1.
#[cfg(feature = "sdk")]
mod heap {
    use multimem_guest::{MultimemAlloc, Platform, Wasm};

    #[global_allocator]
    static ALLOC: MultimemAlloc<Wasm> = MultimemAlloc::new(Wasm);

    /// The previous proof's buffer may be in a memory 1 that is gone: forget it, never free it.
    pub fn release_previous_proof(stale: Vec<u8>) {
        if Platform::is_ephemeral(Wasm, stale.as_ptr() as usize) {
            core::mem::forget(stale);
        }
    }

    pub fn reset_stats() {
        ALLOC.reset_ephemeral_stats();
    }

    pub fn peak_live() -> u32 {
        ALLOC.ephemeral_stats().1 as u32
    }

    pub fn high_water() -> u32 {
        ALLOC.ephemeral_high_water() as u32
    }
}

/// Without the SDK: std's allocator, everything in memory 0, no imports.
#[cfg(not(feature = "sdk"))]
mod heap {
    pub fn release_previous_proof(stale: Vec<u8>) {
        drop(stale);
    }

    pub fn reset_stats() {}

    pub fn peak_live() -> u32 {
        0
    }

    pub fn high_water() -> u32 {
        0
    }
}

struct State {
    prover: Prover,
    /// The last proof's bytes; in memory 1 while a proof is active.
    proof: Vec<u8>,
}

struct Global(UnsafeCell<Option<State>>);
// wasm32 without threads: one caller at a time.
unsafe impl Sync for Global {}
static STATE: Global = Global(UnsafeCell::new(None));

fn state() -> &'static mut State {
    unsafe { (*STATE.0.get()).get_or_insert_with(|| State { prover: Prover::new(), proof: Vec::new() }) }
}

fn status(r: Result<(), crate::Error>) -> i32 {
    r.map_or_else(|e| e.code(), |()| 0)
}

#[no_mangle]
pub extern "C" fn setup(constraints: u32) -> i32 {
    status(state().prover.setup(constraints))
}

#[no_mangle]
pub extern "C" fn prove(seed: u64) -> i32 {
    let s = state();
    heap::release_previous_proof(core::mem::take(&mut s.proof));
    heap::reset_stats();
    status(s.prover.prove(seed).map(|bytes| s.proof = bytes))
}

#[no_mangle]
pub extern "C" fn proof_ptr() -> *const u8 {
    state().proof.as_ptr()
}

#[no_mangle]
pub extern "C" fn proof_len() -> u32 {
    state().proof.len() as u32
}

#[no_mangle]
pub extern "C" fn verify(ptr: *const u8, len: u32) -> i32 {
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len as usize) };
    match state().prover.verify(bytes) {
        Ok(ok) => ok as i32,
        Err(e) => e.code(),
    }
}

#[no_mangle]
pub extern "C" fn set_leak(bytes: u32) {
    state().prover.leak = bytes as usize;
}

#[no_mangle]
pub extern "C" fn set_fail(flag: i32) {
    state().prover.fail = flag != 0;
}

#[no_mangle]
pub extern "C" fn alloc(len: u32) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(len as usize);
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p
}

#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: u32) {
    drop(Vec::from_raw_parts(ptr, 0, len as usize));
}

#[no_mangle]
pub extern "C" fn ephemeral_peak_live() -> u32 {
    heap::peak_live()
}

#[no_mangle]
pub extern "C" fn ephemeral_high_water() -> u32 {
    heap::high_water()
}
