//! The C ABI a host drives (wasm32 only), the Groth16 guest's exports:
//!
//! | export | meaning |
//! |---|---|
//! | `setup(k) -> status` | parameters and keys for `2^k` rows, selected for later proofs |
//! | `prove(seed: u64) -> status` | a proof; bytes at `proof_ptr()`, `proof_len()` until the next proof |
//! | `verify(ptr, len) -> 1 / 0 / status` | checks proof bytes the host put in memory |
//! | `set_leak(bytes)`, `set_fail(flag)` | workload knobs |
//! | `alloc(len) -> ptr`, `dealloc(ptr, len)` | buffers for the host |
//! | `ephemeral_peak_live()`, `ephemeral_high_water()` | always 0: no SDK, nothing knows of memory 1 |
//!
//! A status is 0 for success or a negative [`crate::Error::code`].
#![cfg(target_arch = "wasm32")]

use core::cell::UnsafeCell;

use crate::Prover;

struct State {
    prover: Prover,
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
pub extern "C" fn setup(k: u32) -> i32 {
    status(state().prover.setup(k))
}

#[no_mangle]
pub extern "C" fn prove(seed: u64) -> i32 {
    let s = state();
    s.proof = Vec::new();
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
    0
}

#[no_mangle]
pub extern "C" fn ephemeral_high_water() -> u32 {
    0
}
