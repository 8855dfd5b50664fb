//! Memory instructions wasmtime runs in host code (`memory.fill`,
//! `memory.copy`, `memory.init`, `memory.atomic.notify`/`wait`) under the strategies
//! that run the view form: past memory 0's end they trap out of bounds, as in
//! the original module; inside it they work, pages a fork proof grew
//! included. Before `view_bounds`, fill and copy into the hole between memory
//! 0's end and the split killed the process (SIGSEGV in wasmtime's own code)
//! notify returned 0 and wait reported an unshared memory (found by the fork
//! fuzz target on real-sized modules).

use multimem_runtime::{Limits, Prover, Session, Strategy};
use multimem_transform::{Form, Options};
use wasmtime::{Trap, Val};

const MODULE: &str = r#"(module
  (memory (export "memory") 1 100)
  (data $bytes "multimem")
  (func (export "fill") (param i32 i32) local.get 0 i32.const 0xab local.get 1 memory.fill)
  (func (export "copy_to") (param i32 i32) local.get 0 i32.const 0 local.get 1 memory.copy)
  (func (export "copy_from") (param i32 i32) i32.const 0 local.get 0 local.get 1 memory.copy)
  (func (export "init") (param i32 i32) local.get 0 i32.const 0 local.get 1 memory.init $bytes)
  (func (export "notify") (param i32 i32) (result i32) local.get 0 i32.const 1 memory.atomic.notify offset=4)
  (func (export "wait") (param i32 i32) (result i32) local.get 0 i32.const 0 i64.const 0 memory.atomic.wait32 offset=4)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "byte") (param i32) (result i32) local.get 0 i32.load8_u))"#;

const PAGE: i32 = 65536;

fn prover(strategy: Strategy) -> anyhow::Result<Prover<()>> {
    let mut wasm = wat::parse_str(MODULE)?;
    if strategy != Strategy::Fork {
        wasm = multimem_transform::transform(&wasm, &Options { form: Form::View, ..Options::default() })?;
    }
    let engine = multimem_runtime::engine_for(strategy)?;
    Prover::load(&engine, &wasmtime::Linker::new(&engine), &wasm, strategy, Limits::default())
}

/// Calls `name(addr, len)`: `Ok` or the trap.
fn call(s: &mut Session<'_, ()>, name: &str, addr: i32, len: i32) -> anyhow::Result<Result<(), Trap>> {
    match s.call(name, &[Val::I32(addr), Val::I32(len)]) {
        Ok(_) => Ok(Ok(())),
        Err(e) => e.downcast_ref::<Trap>().map(|t| Ok(Err(*t))).unwrap_or(Err(e)),
    }
}

/// Each instruction just inside memory 0's end of `pages` pages, and just past it.
fn at_the_end(s: &mut Session<'_, ()>, pages: i32, strategy: Strategy) -> anyhow::Result<()> {
    let end = pages * PAGE;
    for name in ["fill", "copy_to", "copy_from", "init"] {
        assert_eq!(call(s, name, end - 8, 8)?, Ok(()), "{strategy}: {name} of the last 8 bytes");
        assert_eq!(call(s, name, end - 8, 9)?, Err(Trap::MemoryOutOfBounds), "{strategy}: {name} one byte past the end");
        assert_eq!(call(s, name, end + PAGE, 1)?, Err(Trap::MemoryOutOfBounds), "{strategy}: {name} a page past the end");
        assert_eq!(call(s, name, end, 0)?, Ok(()), "{strategy}: {name} of nothing at the end");
        assert_eq!(call(s, name, end + 1, 0)?, Err(Trap::MemoryOutOfBounds), "{strategy}: {name} of nothing past the end");
    }
    // notify's offset is 4: the last aligned word is at end - 8 + 4.
    assert_eq!(call(s, "notify", end - 8, 0)?, Ok(()), "{strategy}: notify of the last word");
    assert_eq!(call(s, "notify", end - 4, 0)?, Err(Trap::MemoryOutOfBounds), "{strategy}: notify past the end");
    // As in the original, whose memory is not shared.
    assert_eq!(call(s, "wait", end - 8, 0)?, Err(Trap::AtomicWaitNonSharedMemory), "{strategy}: wait on the last word");
    assert_eq!(call(s, "wait", end - 4, 0)?, Err(Trap::MemoryOutOfBounds), "{strategy}: wait past the end");
    Ok(())
}

#[test]
fn host_run_memory_instructions_trap_past_memory_0_under_the_view_strategies() -> anyhow::Result<()> {
    for strategy in [Strategy::Fork, Strategy::View, Strategy::PrivateView] {
        let mut prover = prover(strategy)?;
        prover.run(|s| {
            at_the_end(s, 1, strategy)?;
            call(s, "fill", PAGE - 8, 8)?.map_err(anyhow::Error::from)?;
            assert_eq!(s.call("byte", &[Val::I32(PAGE - 1)])?[0].unwrap_i32(), 0xab, "{strategy}: fill wrote through the view");
            Ok(())
        })?;
        let (proved, _) = prover.prove(|s| {
            at_the_end(s, 1, strategy)?;
            // Pages grown in the proof (under fork, the proof's own) take the same instructions.
            assert_eq!(s.call("grow", &[Val::I32(1)])?[0].unwrap_i32(), 1);
            at_the_end(s, 2, strategy)?;
            call(s, "fill", PAGE, 16)?.map_err(anyhow::Error::from)?;
            assert_eq!(s.call("byte", &[Val::I32(PAGE + 15)])?[0].unwrap_i32(), 0xab, "{strategy}: fill in a grown page");
            Ok(())
        });
        proved?;
        if strategy == Strategy::Fork {
            // The proof's growth went with it.
            prover.run(|s| at_the_end(s, 1, strategy))?;
        }
    }
    Ok(())
}
