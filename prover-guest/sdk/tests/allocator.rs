//! The allocator logic on the host: memory 1 simulated by a buffer.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use multimem_guest::{Ephemeral, MultimemAlloc, Platform, HEADER_BYTES, PAGE};
use proptest::prelude::*;

/// Memory 1 as a reserved, zeroed buffer that "grows" up to `max` bytes.
struct SimState {
    base: usize,
    size: AtomicUsize,
    max: usize,
    active: AtomicBool,
}

#[derive(Clone, Copy)]
struct Sim(&'static SimState);

impl Sim {
    fn new(max_pages: usize) -> Sim {
        let max = max_pages * PAGE;
        let base = unsafe { std::alloc::alloc_zeroed(Layout::from_size_align(max.max(PAGE), PAGE).unwrap()) } as usize;
        assert_ne!(base, 0);
        Sim(Box::leak(Box::new(SimState { base, size: AtomicUsize::new(0), max, active: AtomicBool::new(false) })))
    }
    fn set_active(self, on: bool) {
        self.0.active.store(on, Ordering::Relaxed);
    }
    /// The recreate strategy: a new, empty memory 1.
    fn recreate(self) {
        let size = self.0.size.swap(0, Ordering::Relaxed);
        unsafe { std::ptr::write_bytes(self.0.base as *mut u8, 0, size) };
    }
    /// The in-place strategy: same size, pages read as zero.
    fn release_in_place(self) {
        let size = self.0.size.load(Ordering::Relaxed);
        unsafe { std::ptr::write_bytes(self.0.base as *mut u8, 0, size) };
    }
    fn size(self) -> usize {
        self.0.size.load(Ordering::Relaxed)
    }
}

unsafe impl Platform for Sim {
    fn ephemeral_base(self) -> usize {
        self.0.base
    }
    fn ephemeral_size(self) -> usize {
        self.size()
    }
    fn ephemeral_grow(self, pages: usize) -> Option<usize> {
        let old = self.size();
        let new = old.checked_add(pages.checked_mul(PAGE)?)?;
        if new > self.0.max {
            return None;
        }
        self.0.size.store(new, Ordering::Relaxed);
        Some(old / PAGE)
    }
    fn proof_active(self) -> bool {
        self.0.active.load(Ordering::Relaxed)
    }
    fn is_ephemeral(self, addr: usize) -> bool {
        (self.0.base..self.0.base + self.0.max).contains(&addr)
    }
}

struct Block {
    ptr: *mut u8,
    layout: Layout,
    fill: u8,
}

fn fill(b: &Block) {
    unsafe { std::ptr::write_bytes(b.ptr, b.fill, b.layout.size()) }
}

fn intact(b: &Block, len: usize) -> bool {
    unsafe { std::slice::from_raw_parts(b.ptr, len) }.iter().all(|&x| x == b.fill)
}

#[derive(Clone, Debug)]
enum Op {
    Alloc { size: usize, align_log2: u32 },
    Free(usize),
    Realloc(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let size = prop_oneof![4 => 1usize..256, 2 => 256usize..8192, 1 => 8192usize..300_000];
    prop_oneof![
        3 => (size.clone(), 0u32..8).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
        2 => any::<usize>().prop_map(Op::Free),
        2 => (any::<usize>(), size).prop_map(|(i, n)| Op::Realloc(i, n)),
    ]
}

/// Runs `ops` on memory 1 and checks every block after every step.
fn check_ops(sim: Sim, alloc: &MultimemAlloc<Sim>, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut live: Vec<Block> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let fill_byte = (step % 251) as u8 + 1;
        match *op {
            Op::Alloc { size, align_log2 } => {
                let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
                let ptr = unsafe { alloc.alloc(layout) };
                if ptr.is_null() {
                    continue; // memory 1 full: a clean allocation failure
                }
                let block = Block { ptr, layout, fill: fill_byte };
                prop_assert_eq!(ptr as usize % layout.align(), 0, "alignment");
                fill(&block);
                live.push(block);
            }
            Op::Free(i) if !live.is_empty() => {
                let b = live.swap_remove(i % live.len());
                prop_assert!(intact(&b, b.layout.size()), "a block was overwritten before free");
                unsafe { alloc.dealloc(b.ptr, b.layout) };
            }
            Op::Realloc(i, new_size) if !live.is_empty() => {
                let i = i % live.len();
                let old = &live[i];
                let ptr = unsafe { alloc.realloc(old.ptr, old.layout, new_size) };
                if ptr.is_null() {
                    prop_assert!(intact(old, old.layout.size()), "failed realloc damaged the block");
                    continue;
                }
                let kept = old.layout.size().min(new_size);
                let moved = Block { ptr, layout: Layout::from_size_align(new_size, old.layout.align()).unwrap(), fill: old.fill };
                prop_assert!(intact(&moved, kept), "realloc lost bytes");
                prop_assert_eq!(ptr as usize % moved.layout.align(), 0);
                live[i] = Block { fill: fill_byte, ..moved };
                fill(&live[i]);
            }
            _ => {}
        }
        for b in &live {
            let start = b.ptr as usize;
            prop_assert!(sim.is_ephemeral(start), "proof-time block outside memory 1");
            prop_assert!(start >= sim.ephemeral_base() + HEADER_BYTES, "block overlaps the heap header");
            prop_assert!(start + b.layout.size() <= sim.ephemeral_base() + sim.size(), "block past memory 1's end");
        }
    }
    for b in &live {
        prop_assert!(intact(b, b.layout.size()), "blocks overlap");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_proof_time_allocations(ops in proptest::collection::vec(op(), 1..300), max_pages in 2usize..64) {
        let sim = Sim::new(max_pages);
        let alloc = MultimemAlloc::new(sim);
        sim.set_active(true);
        check_ops(sim, &alloc, &ops)?;
        // A fresh memory 1 is a fresh allocator, in both strategies.
        sim.recreate();
        check_ops(sim, &alloc, &ops)?;
        let size = sim.size();
        sim.release_in_place();
        check_ops(sim, &alloc, &ops)?;
        prop_assert!(sim.size() >= size);
    }
}

#[test]
fn routes_by_mode_and_frees_by_tag() {
    let sim = Sim::new(64);
    let alloc = MultimemAlloc::new(sim);
    let small = Layout::from_size_align(64, 8).unwrap();
    let persistent = unsafe { alloc.alloc(small) };
    assert!(!sim.is_ephemeral(persistent as usize));

    sim.set_active(true);
    let ephemeral = unsafe { alloc.alloc(small) };
    assert!(sim.is_ephemeral(ephemeral as usize));
    // A memory-0 object grown during a proof stays in memory 0.
    let grown = unsafe { alloc.realloc(persistent, small, 4096) };
    assert!(!grown.is_null() && !sim.is_ephemeral(grown as usize));
    // Scoped allocations go to memory 0 on purpose.
    let cached = multimem_guest::in_persistent_scope(|| unsafe { alloc.alloc(small) });
    assert!(!sim.is_ephemeral(cached as usize));
    // A memory-0 object freed during a proof.
    unsafe { alloc.dealloc(grown, Layout::from_size_align(4096, 8).unwrap()) };
    sim.set_active(false);
    sim.recreate();

    // Stale pointers into a dropped memory 1: ignored by dealloc, refused by realloc.
    unsafe { alloc.dealloc(ephemeral, small) };
    assert!(unsafe { alloc.realloc(ephemeral, small, 128) }.is_null());
    assert_eq!(sim.size(), 0, "nothing touched the dropped memory 1");
    unsafe { alloc.dealloc(cached, small) };
}

#[test]
fn growth_past_memory1_fails_cleanly() {
    let sim = Sim::new(4);
    let alloc = MultimemAlloc::new(sim);
    sim.set_active(true);
    let layout = Layout::from_size_align(100_000, 8).unwrap();
    let block = unsafe { alloc.alloc(layout) };
    assert!(!block.is_null());
    unsafe { std::ptr::write_bytes(block, 7, layout.size()) };
    assert!(unsafe { alloc.alloc(Layout::from_size_align(1 << 20, 8).unwrap()) }.is_null());
    assert!(unsafe { alloc.realloc(block, layout, 1 << 20) }.is_null());
    assert!(unsafe { std::slice::from_raw_parts(block, layout.size()) }.iter().all(|&b| b == 7));
    assert!(sim.size() <= 4 * PAGE);
}

/// A prover-like proof: phases that allocate many small and some large
/// vectors (grown by doubling), then free most of them.
#[test]
fn high_water_stays_near_peak_live() {
    let sim = Sim::new(2048);
    let alloc = MultimemAlloc::new(sim);
    sim.set_active(true);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut live: Vec<(*mut u8, Layout)> = Vec::new();
    for _phase in 0..20 {
        for _ in 0..20_000 {
            let size = if next() % 500 == 0 { 64 * 1024 + (next() % (1 << 20)) as usize } else { 16 + (next() % 200) as usize };
            let layout = Layout::from_size_align(size, 8).unwrap();
            let mut ptr = unsafe { alloc.alloc(layout) };
            assert!(!ptr.is_null());
            let mut layout = layout;
            if next() % 10 == 0 {
                ptr = unsafe { alloc.realloc(ptr, layout, size * 2) };
                layout = Layout::from_size_align(size * 2, 8).unwrap();
            }
            live.push((ptr, layout));
        }
        // Free about 90%, in random order.
        let mut keep = Vec::new();
        for (ptr, layout) in live.drain(..) {
            if next() % 10 == 0 { keep.push((ptr, layout)) } else { unsafe { alloc.dealloc(ptr, layout) } }
        }
        live = keep;
    }
    let (_, peak) = alloc.ephemeral_stats();
    let high_water = alloc.ephemeral_high_water();
    eprintln!("peak live {peak}, high water {high_water}");
    assert!(peak > 20 << 20, "workload too small: peak {peak}");
    assert!((high_water as f64) <= 1.25 * peak as f64, "high water {high_water} vs peak live {peak}");
}

#[test]
fn header_fits() {
    let sim = Sim::new(1);
    assert!(unsafe { Ephemeral::malloc(sim, 8, 8) }.is_null() || sim.size() == PAGE);
}
