//! The wasmtime configuration every strategy runs on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the resolution of proof deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Concurrent instances (one per live proof or prover) the pool has slots for.
const POOL_SLOTS: u32 = 128;

/// An engine able to run every strategy: shared memories (memory 0 of the
/// recreate strategy), multi-memory, epoch interruption for deadlines, and
/// the pooling allocator, which makes a fresh instance per proof cost a few
/// microseconds and still gives a dropped memory 1's pages back to the OS.
///
/// The pool cannot hold a *defined* shared memory: a threaded guest (whose
/// memory 1 is shared) needs [`engine_on_demand`].
pub fn engine() -> Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .total_core_instances(POOL_SLOTS)
        .max_memories_per_module(2)
        .max_memory_size(1 << 32)
        .linear_memory_keep_resident(0);
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

/// Like [`engine`] with wasmtime's default (on-demand) allocator: any guest,
/// threaded ones included; a fresh instance costs tens of microseconds.
pub fn engine_on_demand() -> Result<Engine> {
    Ok(Engine::new(&base_config())?)
}

/// An engine for the view strategies ([`crate::Strategy::View`],
/// [`crate::Strategy::PrivateView`]; Linux): memories come from multimem's
/// creator, which builds a view-form module's memory 1 over memory 0's pages.
/// Other modules run on it too, with plain memories. Like [`engine_on_demand`]
/// it does not pool (wasmtime's pool ignores custom memories).
#[cfg(target_os = "linux")]
pub fn engine_view() -> Result<Engine> {
    let mut config = base_config();
    config.with_host_memory(Arc::new(crate::view::ViewCreator)).memory_init_cow(false);
    Ok(Engine::new(&config)?)
}

/// The engine `strategy` runs best on: [`engine_view`] for the view
/// strategies, [`engine`] for the others.
pub fn engine_for(strategy: crate::Strategy) -> Result<Engine> {
    match strategy {
        #[cfg(target_os = "linux")]
        crate::Strategy::View | crate::Strategy::PrivateView | crate::Strategy::Fork => engine_view(),
        _ => engine(),
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.shared_memory(true).wasm_multi_memory(true).wasm_threads(true).epoch_interruption(true);
    config
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
