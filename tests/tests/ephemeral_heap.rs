//! The ephemeral heap routing injects, on its own: random malloc, calloc,
//! free, realloc and aligned sequences against a model (no overlap,
//! alignment, contents kept, bounds, accounting), and its high-water mark
//! against peak live bytes on a prover-like pattern.

use std::collections::BTreeMap;

use multimem_transform::abi::heap::*;
use multimem_transform::ephemeral_heap::{standalone, Params};
use wasmtime::{Engine, Global, GlobalType, Instance, Memory, Module, Mutability, Store, TypedFunc, Val, ValType};

const SPLIT: u32 = 0x8000_0000;

struct Heap {
    store: Store<()>,
    memory: Memory,
    malloc: TypedFunc<(u32, u32), u32>,
    calloc: TypedFunc<(u32, u32), u32>,
    free: TypedFunc<u32, ()>,
    realloc: TypedFunc<(u32, u32, u32), u32>,
    usable: TypedFunc<u32, u32>,
}

impl Heap {
    fn new(engine: &Engine, module: &Module, epoch: i32) -> Heap {
        let mut store = Store::new(engine, ());
        let global = |store: &mut Store<()>, v| Global::new(store, GlobalType::new(ValType::I32, Mutability::Var), Val::I32(v)).unwrap();
        let epoch = global(&mut store, epoch);
        let sp = global(&mut store, 0);
        let instance = Instance::new(&mut store, module, &[epoch.into(), sp.into()]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        Heap {
            malloc: instance.get_typed_func(&mut store, "malloc").unwrap(),
            calloc: instance.get_typed_func(&mut store, "calloc").unwrap(),
            free: instance.get_typed_func(&mut store, "free").unwrap(),
            realloc: instance.get_typed_func(&mut store, "realloc").unwrap(),
            usable: instance.get_typed_func(&mut store, "usable_size").unwrap(),
            memory,
            store,
        }
    }

    fn header(&self, at: u32) -> u32 {
        let d = self.memory.data(&self.store);
        if d.len() < 64 {
            return 0;
        }
        u32::from_le_bytes(d[at as usize..at as usize + 4].try_into().unwrap())
    }

    fn fill(&mut self, ptr: u32, len: u32, byte: u8) {
        let at = (ptr - SPLIT) as usize;
        self.memory.data_mut(&mut self.store)[at..at + len as usize].fill(byte);
    }

    fn check(&self, ptr: u32, len: u32, byte: u8) -> bool {
        let at = (ptr - SPLIT) as usize;
        self.memory.data(&self.store)[at..at + len as usize].iter().all(|&b| b == byte)
    }
}

fn module(engine: &Engine, max_pages: Option<u64>) -> Module {
    let mut wasm = standalone(&Params::new(SPLIT, 0, false)).unwrap();
    if let Some(max) = max_pages {
        wasm = multimem_transform::limit_memory::run(&wasm, 0, max).unwrap();
    }
    Module::new(engine, &wasm).unwrap()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn size(&mut self) -> u32 {
        match self.below(10) {
            0..=5 => self.below(64) as u32,
            6..=8 => self.below(4096) as u32,
            _ => self.below(300_000) as u32,
        }
    }
    fn align(&mut self) -> u32 {
        [1, 2, 4, 8, 8, 8, 16, 64, 4096][self.below(9) as usize]
    }
}

/// A live block in the model: requested length, alignment, fill byte.
#[derive(Clone, Copy)]
struct Block {
    len: u32,
    align: u32,
    byte: u8,
}

fn check_layout(heap: &mut Heap, live: &BTreeMap<u32, Block>) {
    let mut end = 0u64;
    let mut usable_sum = 0u64;
    for (&ptr, b) in live {
        assert!(ptr >= SPLIT, "{ptr:#x} is not tagged");
        assert_eq!(ptr % b.align.max(8), 0, "{ptr:#x} not aligned to {}", b.align);
        assert!(ptr as u64 >= end, "block at {ptr:#x} overlaps the one before it");
        let usable = heap.usable.call(&mut heap.store, ptr).unwrap();
        assert!(usable >= b.len, "usable size {usable} < {}", b.len);
        end = ptr as u64 + usable as u64;
        assert!(end - SPLIT as u64 <= heap.header(HEAP_TOP_AT) as u64, "block past the heap's top");
        usable_sum += usable as u64;
        assert!(heap.check(ptr, b.len, b.byte), "contents of {ptr:#x} changed");
    }
    assert_eq!(heap.header(HEAP_LIVE_AT) as u64, usable_sum, "live bytes");
    assert!(heap.header(HEAP_PEAK_AT) as u64 >= usable_sum);
}

fn run_random(seed: u64, steps: usize, epoch: i32) {
    let engine = Engine::default();
    let module = module(&engine, None);
    let mut heap = Heap::new(&engine, &module, epoch);
    let mut rng = Rng(seed | 1);
    let mut live: BTreeMap<u32, Block> = BTreeMap::new();
    for step in 0..steps {
        let byte = (step % 251) as u8 + 1;
        match rng.below(10) {
            0..=3 => {
                let (len, align) = (rng.size(), rng.align());
                let zeroed = rng.below(4) == 0;
                let f = if zeroed { &heap.calloc } else { &heap.malloc };
                let ptr = f.call(&mut heap.store, (len, align)).unwrap();
                assert_ne!(ptr, 0, "allocation of {len} failed");
                if zeroed {
                    assert!(heap.check(ptr, len, 0), "calloc'd memory is not zero");
                }
                heap.fill(ptr, len, byte);
                live.insert(ptr, Block { len, align, byte });
            }
            4..=6 if !live.is_empty() => {
                let ptr = *live.keys().nth(rng.below(live.len() as u64) as usize).unwrap();
                let b = live.remove(&ptr).unwrap();
                assert!(heap.check(ptr, b.len, b.byte), "contents of {ptr:#x} changed before free");
                heap.free.call(&mut heap.store, ptr).unwrap();
            }
            7..=8 if !live.is_empty() => {
                let ptr = *live.keys().nth(rng.below(live.len() as u64) as usize).unwrap();
                let b = live.remove(&ptr).unwrap();
                let len = if rng.below(2) == 0 { rng.size() } else { b.len + rng.below(5000) as u32 };
                let new = heap.realloc.call(&mut heap.store, (ptr, len, b.align)).unwrap();
                assert_ne!(new, 0, "realloc to {len} failed");
                assert!(heap.check(new, len.min(b.len), b.byte), "realloc lost contents");
                heap.fill(new, len, byte);
                live.insert(new, Block { len, align: b.align, byte });
            }
            _ => {
                // Pointers outside the heap (a previous proof's, a memory-0 one) are ignored.
                let top = heap.header(HEAP_TOP_AT);
                let bogus = match rng.below(3) {
                    0 => SPLIT + rng.below(HEAP_BASE_EVEN as u64) as u32,
                    1 => SPLIT + top + rng.below(1 << 20) as u32,
                    _ => rng.below(SPLIT as u64) as u32,
                };
                heap.free.call(&mut heap.store, bogus).unwrap();
                assert_eq!(heap.usable.call(&mut heap.store, bogus).unwrap(), 0);
            }
        }
        if step % 97 == 0 {
            check_layout(&mut heap, &live);
        }
    }
    check_layout(&mut heap, &live);
    for (&ptr, _) in &live {
        heap.free.call(&mut heap.store, ptr).unwrap();
    }
    assert_eq!(heap.header(HEAP_LIVE_AT), 0);
    // Everything merged back into one free block: a large request reuses it.
    let top = heap.header(HEAP_TOP_AT);
    let base = heap.header(HEAP_BASE_AT);
    let big = heap.malloc.call(&mut heap.store, (top - base - 64, 8)).unwrap();
    assert_ne!(big, 0);
    assert_eq!(heap.header(HEAP_TOP_AT), top, "a request the freed heap can hold grew it");
}

#[test]
fn random_sequences_match_the_model() {
    for seed in [1, 2, 3, 0xdead_beef, 42] {
        run_random(seed, 3000, 0);
    }
}

#[test]
fn odd_epochs_lay_the_heap_out_higher() {
    run_random(7, 1000, 1);
    let engine = Engine::default();
    let module = module(&engine, None);
    let mut even = Heap::new(&engine, &module, 2);
    let mut odd = Heap::new(&engine, &module, 3);
    let p = even.malloc.call(&mut even.store, (100, 8)).unwrap();
    let q = odd.malloc.call(&mut odd.store, (100, 8)).unwrap();
    assert_eq!(even.header(HEAP_BASE_AT), HEAP_BASE_EVEN);
    assert!(p - SPLIT < HEAP_HEADER_BYTES + 64);
    assert!(q - SPLIT >= 1 << 30, "odd heap at {:#x}", q - SPLIT);
    // Too small a memory 1 for the odd layout: the even one, not a failure.
    let small = module_small(&engine);
    let mut odd_small = Heap::new(&engine, &small, 1);
    let r = odd_small.malloc.call(&mut odd_small.store, (100, 8)).unwrap();
    assert!(r != 0 && r - SPLIT < 1 << 20);
}

fn module_small(engine: &Engine) -> Module {
    module(engine, Some(256))
}

#[test]
fn realloc_grows_in_place_and_failures_keep_the_block() {
    let engine = Engine::default();
    let m = module(&engine, Some(64));
    let mut heap = Heap::new(&engine, &m, 0);
    let p = heap.malloc.call(&mut heap.store, (1000, 8)).unwrap();
    heap.fill(p, 1000, 9);
    // At the end of the heap: grows where it is.
    let q = heap.realloc.call(&mut heap.store, (p, 200_000, 8)).unwrap();
    eprintln!("p {p:#x} q {q:#x} top {:#x} usable {}", heap.header(HEAP_TOP_AT), heap.usable.call(&mut heap.store, q).unwrap());
    assert_eq!(p, q);
    assert!(heap.check(q, 1000, 9));
    // Freed neighbour: absorbed.
    let a = heap.malloc.call(&mut heap.store, (5000, 8)).unwrap();
    let b = heap.malloc.call(&mut heap.store, (5000, 8)).unwrap();
    let _guard = heap.malloc.call(&mut heap.store, (16, 8)).unwrap();
    eprintln!("a {a:#x} b {b:#x} guard {_guard:#x}");
    heap.free.call(&mut heap.store, b).unwrap();
    assert_eq!(heap.realloc.call(&mut heap.store, (a, 9000, 8)).unwrap(), a);
    // Memory 1 full (64 pages): realloc fails, the block stays.
    let r = heap.realloc.call(&mut heap.store, (q, 10 << 20, 8)).unwrap();
    assert_eq!(r, 0);
    assert!(heap.check(q, 1000, 9));
    assert_eq!(heap.malloc.call(&mut heap.store, (10 << 20, 8)).unwrap(), 0);
    assert_eq!(heap.malloc.call(&mut heap.store, (u32::MAX, 8)).unwrap(), 0);
}

/// A prover-like pattern: long-lived tables, per-round scratch vectors that
/// grow by doubling, and many small objects; memory 1's high water must stay
/// within 1.25x of the peak live bytes.
#[test]
fn high_water_stays_near_peak_live() {
    let engine = Engine::default();
    let module = module(&engine, None);
    let mut heap = Heap::new(&engine, &module, 0);
    let mut rng = Rng(99);
    let mut keep = Vec::new();
    for round in 0..40u32 {
        let n = 1 << (10 + round % 8);
        // A vector grown by doubling.
        let mut v = heap.malloc.call(&mut heap.store, (64, 8)).unwrap();
        let mut cap = 64;
        while cap < n * 32 {
            cap *= 2;
            v = heap.realloc.call(&mut heap.store, (v, cap, 8)).unwrap();
        }
        // Scratch of mixed sizes, half of it freed at once.
        let mut scratch: Vec<u32> = (0..200).map(|_| heap.malloc.call(&mut heap.store, (rng.size().min(20_000), [8, 16, 64][rng.below(3) as usize])).unwrap()).collect();
        for p in scratch.drain(..).step_by(2) {
            heap.free.call(&mut heap.store, p).unwrap();
        }
        if round % 5 == 0 {
            keep.push(heap.malloc.call(&mut heap.store, (n * 8, 64)).unwrap());
        }
        heap.free.call(&mut heap.store, v).unwrap();
    }
    let high_water = (heap.header(HEAP_TOP_AT) - heap.header(HEAP_BASE_AT)) as f64;
    let peak = heap.header(HEAP_PEAK_AT) as f64;
    eprintln!("high water {high_water} bytes, peak live {peak} bytes, ratio {:.3}", high_water / peak);
    assert!(high_water <= 1.25 * peak + 65536.0, "high water {high_water} vs peak live {peak}");
}
