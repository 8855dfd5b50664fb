//! A known transformer bug, found on a real module (acvm_js's `compressWitness`
//! traps out of bounds when transformed with versioning, and works without).
//!
//! In `(stack frame + 2048) + i`, with `i` a negative index (-1024 up to 0),
//! provenance takes the persistent stack address for the offset and `i` for
//! the pointer (`Reader::origin`, `I32Add`: "an offset that is itself below
//! the split keeps the pointer's tag"); the loop is versioned on `i`'s tag at
//! entry, -1024 reads as tagged, and the copy that runs sends every access
//! to memory 1. Ignored until provenance tells a stack-derived pointer from
//! an offset below the split.

use multimem_tests::differential::{compare, engine};
use multimem_transform::Options;

const NEGATIVE_INDEX: &str = r#"(module
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 65536))
  (func (export "f") (result i32) (local $base i32) (local $i i32) (local $sum i32)
    global.get $sp i32.const 4096 i32.sub local.tee $base global.set $sp
    i32.const -1024 local.set $i
    loop $l
      local.get $base i32.const 2048 i32.add local.get $i i32.add i32.const 1024 i32.add
      local.get $i i32.store
      local.get $base i32.const 2048 i32.add local.get $i i32.add i32.const 1024 i32.add
      local.get $i i32.store offset=4
      local.get $base i32.const 2048 i32.add local.get $i i32.add i32.const 1024 i32.add
      local.get $i i32.store offset=8
      local.get $base i32.const 2048 i32.add local.get $i i32.add i32.const 1024 i32.add
      i32.load local.get $sum i32.add local.set $sum
      local.get $i i32.const 16 i32.add local.tee $i
      br_if $l
    end
    local.get $base i32.const 4096 i32.add global.set $sp
    local.get $sum))"#;

#[test]
#[ignore = "known bug: a negative loop index added to a stack address versions the loop on the index's tag"]
fn a_negative_index_added_to_a_stack_address_stays_in_memory_0() {
    let original = wat::parse_str(NEGATIVE_INDEX).unwrap();
    let engine = engine();
    for version in [false, true] {
        let transformed = multimem_transform::transform(&original, &Options { version, ..Options::default() }).unwrap();
        assert_eq!(compare(&engine, &original, &transformed, 1), Ok(true), "version: {version}");
    }
}
