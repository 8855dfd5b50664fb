//! A fill or copy whose range crosses the split traps, as an out-of-bounds
//! access would; ranges on either side of it work. Split 0x10000 keeps
//! memory 0 at one page, so its top meets the split.

use multimem_transform::Options;
use wasmtime::{Engine, Instance, Module, Store, Trap, TypedFunc};

const GUEST: &str = r#"(module
  (import "multimem" "ephemeral_grow" (func $grow (param i32) (result i32)))
  (memory 1)
  (func (export "grow") (result i32) i32.const 1 call $grow)
  (func (export "fill") (param i32 i32) local.get 0 i32.const 7 local.get 1 memory.fill)
  (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u))"#;

#[test]
fn ranges_crossing_the_split_trap() -> anyhow::Result<()> {
    const S: i32 = 0x10000;
    let options = Options { split: S as u32, ..Options::default() };
    let wasm = multimem_transform::transform(&wat::parse_str(GUEST)?, &options)?;
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &Module::new(&engine, &wasm)?, &[])?;
    let grow: TypedFunc<(), i32> = instance.get_typed_func(&mut store, "grow")?;
    let fill: TypedFunc<(i32, i32), ()> = instance.get_typed_func(&mut store, "fill")?;
    let copy: TypedFunc<(i32, i32, i32), ()> = instance.get_typed_func(&mut store, "copy")?;
    let load: TypedFunc<i32, i32> = instance.get_typed_func(&mut store, "load")?;
    assert_eq!(grow.call(&mut store, ())?, 0, "memory 1 had no pages");

    let traps = |r: wasmtime::Result<()>| r.err().and_then(|e| e.downcast_ref::<Trap>().copied()) == Some(Trap::MemoryOutOfBounds);
    fill.call(&mut store, (S - 8, 8))?;
    fill.call(&mut store, (S, 8))?;
    assert_eq!(load.call(&mut store, S + 3)?, 7, "the fill landed in memory 1");
    assert!(traps(fill.call(&mut store, (S - 4, 8))), "fill across the split");
    copy.call(&mut store, (S + 16, S - 8, 8))?;
    copy.call(&mut store, (0, S, 8))?;
    assert_eq!(load.call(&mut store, 3)?, 7, "memory 1 to memory 0");
    assert!(traps(copy.call(&mut store, (S - 4, S + 64, 8))), "destination across the split");
    assert!(traps(copy.call(&mut store, (S + 64, S - 4, 8))), "source across the split");
    Ok(())
}
