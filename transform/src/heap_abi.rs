// The ephemeral heap's header in memory 1: the one layout the guest SDK's
// allocator, the allocator the transformer injects (`route`), and hosts that
// read a proof's figures agree on. Plain constants, no dependencies: the SDK
// (`prover-guest/sdk`, no_std, its own workspace) includes this file as is.
//
// Offsets are bytes from the start of memory 1 (untagged). All fields are
// little-endian u32. A memory 1 whose magic is not `HEAP_MAGIC` holds no heap
// yet: a fresh (zeroed) memory 1 is a fresh heap, there is no reset call.
//
// | offset | field |
// |---|---|
// | 0 | magic |
// | 4 | kind: which allocator keeps this heap (`HEAP_KIND_*`) |
// | 8 | base: where the heap's blocks start |
// | 12 | top: where they end (the heap spans `top - base` bytes of memory 1) |
// | 16 | live bytes (usable size of every block in use) |
// | 20 | peak live bytes during this proof |
// | 24 | allocations made |
// | 28 | escapes seen (stores of ephemeral pointers into memory 0, check mode) |
// | 32 | epoch the heap was laid out for (see `HEAP_BASE_ODD`) |
// | 64..ESCAPE_LOG | allocator-private state |
// | ESCAPE_LOG.. | the first `ESCAPE_LOG_ENTRIES` escapes: (function index, address) |

/// `b"mmh1"`, little-endian.
pub const HEAP_MAGIC: u32 = u32::from_le_bytes(*b"mmh1");
pub const HEAP_KIND_SDK: u32 = 1;
pub const HEAP_KIND_ROUTED: u32 = 2;

pub const HEAP_MAGIC_AT: u32 = 0;
pub const HEAP_KIND_AT: u32 = 4;
pub const HEAP_BASE_AT: u32 = 8;
pub const HEAP_TOP_AT: u32 = 12;
pub const HEAP_LIVE_AT: u32 = 16;
pub const HEAP_PEAK_AT: u32 = 20;
pub const HEAP_ALLOCATIONS_AT: u32 = 24;
pub const HEAP_ESCAPES_AT: u32 = 28;
pub const HEAP_EPOCH_AT: u32 = 32;
/// Start of the allocator-private part of the header.
pub const HEAP_PRIVATE_AT: u32 = 64;

/// The escape log: `ESCAPE_LOG_ENTRIES` entries of two u32, (function index, address).
pub const ESCAPE_LOG_AT: u32 = 4096;
pub const ESCAPE_LOG_ENTRIES: u32 = 512;
/// Bytes at the start of memory 1 that belong to the header and the log.
pub const HEAP_HEADER_BYTES: u32 = ESCAPE_LOG_AT + 8 * ESCAPE_LOG_ENTRIES;

/// Where the heap starts in proofs of even epoch.
pub const HEAP_BASE_EVEN: u32 = HEAP_HEADER_BYTES;
/// Where the heap starts in proofs of odd epoch, as a share of memory 1's
/// largest size: half of it. A stale pointer of the previous proof then
/// lies above this proof's memory 1 (it traps) or in pages below this
/// proof's heap that nothing writes (they read as zero).
pub const HEAP_BASE_ODD_SHARE: u32 = 2;
