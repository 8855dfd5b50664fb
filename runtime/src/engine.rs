//! The wasmtime configuration every strategy runs on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use wasmtime::{Config, Engine};

/// How often the epoch advances; the resolution of proof deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// An engine able to run every strategy: shared memories (memory 0 of the
/// recreate strategy), multi-memory, and epoch interruption for deadlines.
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.shared_memory(true).wasm_multi_memory(true).wasm_threads(true).epoch_interruption(true);
    Ok(Engine::new(&config)?)
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
