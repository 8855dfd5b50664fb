//! A loaded prover: compiled once, memory 0 for its whole life, memory 1 per proof.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use multimem_transform::abi::{self, EXPORT_EPHEMERAL_MEMORY, EXPORT_PERSISTENT_MEMORY, IMPORT_MODULE};
use wasmtime::{Engine, Extern, Instance, InstancePre, Linker, Memory, MemoryType, Module, SharedMemory, Store, Val};

use crate::engine::{EpochTicker, EPOCH_TICK};
use crate::globals::{set_proof_active, Globals};
use crate::metrics::{rss_bytes, ProofMetrics};
use crate::session::{Memory0, Session};
use crate::plan::{Layout, Memory0Plan, Plan};
use crate::{Limits, Strategy};

/// A prover module loaded under one [`Strategy`].
///
/// `T` is the Store data the caller's [`Linker`] host functions see; every
/// Store (one per proof under [`Strategy::Recreate`]) starts with `T::default()`.
pub struct Prover<T: 'static> {
    engine: Engine,
    strategy: Strategy,
    limits: Limits,
    split: Option<u32>,
    globals: Globals,
    backend: Backend<T>,
    _ticker: Option<EpochTicker>,
    /// Test seam: the next page release (in place) fails as if the kernel had refused it.
    fail_release: bool,
}

enum Backend<T: 'static> {
    /// A Store per call against one memory 0; `carried` are the mutable
    /// globals as the last successful call left them.
    Recreate { pre: InstancePre<T>, memory0: Persistent0, carried: Option<Vec<Val>> },
    /// One Store and instance for the prover's life (until [`Prover::restart`]).
    Single { store: Store<T>, instance: Instance, memory0: Memory0, memory1: Option<Memory>, module: Module, linker: Linker<T> },
}

impl<T: Default + Send + 'static> Prover<T> {
    /// Compiles `wasm` and prepares memory 0. Under [`Strategy::Baseline`]
    /// `wasm` is the untransformed module, otherwise the transformed one.
    /// Imports other than multimem's own come from `linker`.
    ///
    /// The fork strategy also takes the module as shipped and transforms it
    /// itself (view form, nothing routed).
    pub fn load(engine: &Engine, linker: &Linker<T>, wasm: &[u8], strategy: Strategy, limits: Limits) -> Result<Self> {
        let Plan { wasm, layout } = Plan::new(wasm, strategy, &limits)?;
        let what = if layout.memory0 == Memory0Plan::Own { "compiling the module" } else { "compiling the per-proof module" };
        let module = crate::checks::compile(engine, &wasm, what)?;
        drop(wasm);
        Self::assemble(engine, linker, module, layout, strategy, limits)
    }

    /// Loads a prover [`crate::precompile`] wrote to `path` (`multimem compile`)
    /// for `strategy` and `limits`, mapping its code instead of compiling it.
    /// An artefact made for another strategy, other memory limits, another
    /// engine configuration or another version of wasmtime or multimem, or a
    /// damaged one, is refused with one line saying which.
    ///
    /// # Safety
    ///
    /// The artefact is native code that runs as it is: `path` must be a file
    /// written by [`crate::precompile`] (its checksum catches damage, not
    /// forgery), and it must not be modified in place while the prover lives
    /// (its pages are mapped, not copied; writing a new file and renaming it
    /// over the path, as `multimem compile` does, is fine). This is
    /// [`Module::deserialize_file`]'s contract.
    pub unsafe fn load_precompiled(engine: &Engine, linker: &Linker<T>, path: &std::path::Path, strategy: Strategy, limits: Limits) -> Result<Self> {
        // SAFETY: the caller's contract is the one this function states.
        let (module, layout) = unsafe { crate::artefact::open(engine, path, strategy, &limits)? };
        Self::assemble(engine, linker, module, layout, strategy, limits)
    }

    /// A prover from its compiled module and the layout it was compiled for.
    fn assemble(engine: &Engine, linker: &Linker<T>, module: Module, layout: Layout, strategy: Strategy, limits: Limits) -> Result<Self> {
        let mut linker = linker.clone();
        linker.allow_shadowing(true);
        if layout.split.is_some() {
            crate::checks::runtime_exports(&module)?;
        }
        let globals = Globals::of(&module);
        let backend = match layout.memory0 {
            Memory0Plan::Shared { import, initial_pages, maximum_pages, data } => {
                let ty = MemoryType::shared(u32::try_from(initial_pages)?, u32::try_from(maximum_pages)?);
                let memory0 = SharedMemory::new(engine, ty).map_err(anyhow::Error::from).context("creating memory 0")?;
                apply_data(&memory0, &data)?;
                let mut scratch = Store::new(engine, T::default());
                linker.define(&mut scratch, &import.0, &import.1, Extern::SharedMemory(memory0.clone()))?;
                let pre = linker.instantiate_pre(&module).map_err(anyhow::Error::from).context("linking the per-proof module")?;
                Backend::Recreate { pre, memory0: Persistent0::Shared(memory0), carried: None }
            }
            Memory0Plan::View { initial_pages, data } => Self::view_backend(&linker, &module, initial_pages, &data, strategy)?,
            Memory0Plan::Own => {
                if strategy == Strategy::Baseline {
                    define_untransformed_answers(&mut linker)?;
                }
                Self::instantiate_single(engine, linker, module).map_err(|e| crate::imported::explain(e, strategy))?
            }
        };
        let ticker = limits.deadline.map(|_| EpochTicker::start(engine));
        let mut prover = Prover { engine: engine.clone(), strategy, limits, split: layout.split, globals, backend, _ticker: ticker, fail_release: false };
        if let Some(start) = &layout.start {
            prover.call(start, &[]).context("running the module's start function (once, against memory 0)")?;
        }
        Ok(prover)
    }

    #[cfg(target_os = "linux")]
    fn view_backend(linker: &Linker<T>, module: &Module, initial_pages: u64, data: &[(u32, Vec<u8>)], strategy: Strategy) -> Result<Backend<T>> {
        use crate::view::Mapping;
        let mapping = match strategy {
            Strategy::View => Mapping::Shared,
            Strategy::PrivateView => Mapping::Private,
            _ => Mapping::Fork,
        };
        let pages = crate::view::Persistent::new(usize::try_from(initial_pages * multimem_transform::PAGE)?)?;
        for (offset, bytes) in data {
            pages.write(*offset as usize, bytes)?;
        }
        let pre = linker.instantiate_pre(module).map_err(anyhow::Error::from).context("linking the per-proof module")?;
        Ok(Backend::Recreate { pre, memory0: Persistent0::View { pages, mapping }, carried: None })
    }

    #[cfg(not(target_os = "linux"))]
    fn view_backend(_: &Linker<T>, _: &Module, _: u64, _: &[(u32, Vec<u8>)], strategy: Strategy) -> Result<Backend<T>> {
        bail!("the {strategy} strategy needs Linux (memfd and fixed mappings)")
    }

    fn instantiate_single(engine: &Engine, linker: Linker<T>, module: Module) -> Result<Backend<T>> {
        let mut store = Store::new(engine, T::default());
        store.set_epoch_deadline(u64::MAX / 2);
        // A memory the module imports and the caller does not supply is memory 0: the runtime makes it.
        let mut instance_linker = linker.clone();
        let supplied = crate::imported::supply_memory(&mut instance_linker, &mut store, &module)?;
        let instance = instance_linker.instantiate(&mut store, &module).map_err(crate::checks::instantiate_error)?;
        let memory0 = match (instance.get_memory(&mut store, EXPORT_PERSISTENT_MEMORY), supplied) {
            (Some(m), _) => Memory0::Local(m),
            (None, Some(m)) => m,
            (None, None) => match instance.get_shared_memory(&mut store, EXPORT_PERSISTENT_MEMORY) {
                Some(m) => Memory0::Shared(m),
                None => first_exported_memory(&mut store, instance).context("the module exports no memory and imports none")?,
            },
        };
        let memory1 = instance.get_memory(&mut store, EXPORT_EPHEMERAL_MEMORY);
        Ok(Backend::Single { store, instance, memory0, memory1, module, linker })
    }

    /// Throws the instance away and starts a fresh one from the compiled
    /// module: memory 0 and all state go, so setup must run again. This is
    /// the "replay setup" workaround multimem replaces, kept for comparison;
    /// the in-place and baseline strategies only.
    pub fn restart(&mut self) -> Result<()> {
        let Backend::Single { module, linker, .. } = &self.backend else {
            bail!("restart applies to the in-place and baseline strategies");
        };
        let (module, linker) = (module.clone(), linker.clone());
        self.backend = Self::instantiate_single(&self.engine, linker, module)?;
        Ok(())
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Resident memory of the process with this prover in it, memory 0
    /// included wherever it lives (see [`rss_bytes`]).
    pub fn resident_bytes(&self) -> u64 {
        rss_bytes()
    }

    /// Memory 0's size in pages.
    pub fn memory0_pages(&self) -> u64 {
        match &self.backend {
            Backend::Recreate { memory0, .. } => memory0.pages(),
            Backend::Single { store, memory0, .. } => memory0.pages(store),
        }
    }

    /// Calls export `name` with no proof active (setup, verification): what it allocates stays in memory 0.
    pub fn call(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>> {
        self.session(false, |s| s.call(name, args)).0
    }

    /// Runs `f` with no proof active (several calls, reading and writing memory).
    pub fn run<R>(&mut self, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> Result<R> {
        self.session(false, f).0
    }

    /// Runs one proof: a fresh memory 1, the proof mode on, `f` (which calls
    /// the prove export and copies out what it needs), then memory 1 is given
    /// back whether `f` succeeded or trapped. On failure the mutable globals
    /// (the stack pointer among them) are as before the proof.
    pub fn prove<R>(&mut self, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> (Result<R>, ProofMetrics) {
        self.session(true, f)
    }

    /// Makes the next release of memory 1's pages (in place) fail, so that a
    /// test can check the fallback; a fault-injection seam, not an API.
    #[doc(hidden)]
    pub fn fail_next_release(&mut self) {
        self.fail_release = true;
    }

    /// Epoch ticks a call may run: the caller's deadline for proofs, unbounded otherwise.
    fn deadline_ticks(&self, proof: bool) -> u64 {
        match self.limits.deadline {
            Some(d) if proof => (d.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
            _ => u64::MAX / 2,
        }
    }

    fn session<R>(&mut self, proof: bool, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> (Result<R>, ProofMetrics) {
        let ticks = self.deadline_ticks(proof);
        let mut metrics = ProofMetrics::default();
        let result = match &mut self.backend {
            Backend::Recreate { pre, memory0, carried } => {
                let on = RecreateOn { engine: &self.engine, globals: &self.globals, split: self.split, pre, memory0 };
                let (result, captured) = on.session(carried.as_deref(), ticks, proof, &mut metrics, f);
                if captured.is_some() {
                    *carried = captured;
                }
                result
            }
            Backend::Single { store, instance, memory0, memory1, .. } => {
                let fail_release = std::mem::take(&mut self.fail_release);
                let on = SingleOn { globals: &self.globals, split: self.split, store, instance: *instance, memory0: memory0.clone(), memory1: *memory1, fail_release };
                on.session(ticks, proof, &mut metrics, f)
            }
        };
        metrics.rss_bytes = self.resident_bytes();
        (result, metrics)
    }

    /// A handle for proofs at once (the fork strategy): each proof in its own
    /// private view of memory 0, on whatever thread calls
    /// [`crate::Proofs::prove`]. Setup cannot run while the handle lives.
    #[cfg(target_os = "linux")]
    pub fn proofs(&self) -> Result<crate::fork::Proofs<'_, T>> {
        match &self.backend {
            #[cfg(target_os = "linux")]
            Backend::Recreate { memory0: Persistent0::View { mapping: crate::view::Mapping::Fork, .. }, .. } => Ok(crate::fork::Proofs::new(self)),
            _ => bail!("proofs at once need the fork strategy: under {} a proof changes state the next one sees", self.strategy),
        }
    }

    /// One fork proof through `&self`: it changes nothing the prover holds.
    #[cfg(target_os = "linux")]
    pub(crate) fn prove_forked<R>(&self, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> (Result<R>, ProofMetrics) {
        let mut metrics = ProofMetrics::default();
        let Backend::Recreate { pre, memory0, carried } = &self.backend else {
            return (Err(anyhow::anyhow!("proofs at once need the fork strategy")), metrics);
        };
        let on = RecreateOn { engine: &self.engine, globals: &self.globals, split: self.split, pre, memory0 };
        let (result, _) = on.session(carried.as_deref(), self.deadline_ticks(true), true, &mut metrics, f);
        metrics.rss_bytes = rss_bytes();
        (result, metrics)
    }
}

/// Memory 0 of the strategies that give each call a Store of its own.
enum Persistent0 {
    /// Recreate: a shared memory every instance imports.
    Shared(SharedMemory),
    /// The view strategies: pages every instance maps as its memory 0 and
    /// again, below the split, in its memory 1, mapped in a proof as `mapping` says.
    #[cfg(target_os = "linux")]
    View { pages: std::sync::Arc<crate::view::Persistent>, mapping: crate::view::Mapping },
}

impl Persistent0 {
    fn pages(&self) -> u64 {
        match self {
            Persistent0::Shared(m) => m.size(),
            #[cfg(target_os = "linux")]
            Persistent0::View { pages, .. } => pages.bytes() as u64 / multimem_transform::PAGE,
        }
    }

    /// Whether a proof's changes are thrown away with its Store.
    fn forks(&self, proof: bool) -> bool {
        match self {
            Persistent0::Shared(_) => false,
            #[cfg(target_os = "linux")]
            Persistent0::View { mapping, .. } => *mapping != crate::view::Mapping::Shared && proof,
        }
    }

    fn instantiate<T>(&self, pre: &InstancePre<T>, store: &mut Store<T>, proof: bool) -> Result<(Instance, Memory0, bool)> {
        let fail = |e| crate::session::call_error("instantiate", e);
        match self {
            Persistent0::Shared(memory0) => Ok((pre.instantiate(&mut *store).map_err(fail)?, Memory0::Shared(memory0.clone()), false)),
            #[cfg(target_os = "linux")]
            Persistent0::View { pages, mapping } => {
                let mapping = if proof { *mapping } else { crate::view::Mapping::Shared };
                let instantiation = crate::view::Instantiation::begin(pages, mapping);
                let instance = pre.instantiate(&mut *store).map_err(fail)?;
                instantiation.finish()?;
                let memory0 = instance.get_memory(&mut *store, EXPORT_PERSISTENT_MEMORY).context("a view-form module exports memory 0")?;
                Ok((instance, Memory0::Local(memory0), true))
            }
        }
    }
}

/// One call or proof with a Store of its own, dropped at the end (recreate and the view strategies).
struct RecreateOn<'a, T: 'static> {
    engine: &'a Engine,
    globals: &'a Globals,
    split: Option<u32>,
    pre: &'a InstancePre<T>,
    memory0: &'a Persistent0,
}

impl<T: Default + Send + 'static> RecreateOn<'_, T> {
    /// Runs `f`; returns its result and, unless the call forks, the globals it left.
    fn session<R>(
        self,
        carried: Option<&[Val]>,
        ticks: u64,
        proof: bool,
        metrics: &mut ProofMetrics,
        f: impl FnOnce(&mut Session<'_, T>) -> Result<R>,
    ) -> (Result<R>, Option<Vec<Val>>) {
        let created = Instant::now();
        let mut captured = None;
        let mut store = Store::new(self.engine, T::default());
        store.set_epoch_deadline(ticks);
        let result = (|| {
            let (instance, memory0, is_view) = self.memory0.instantiate(self.pre, &mut store, proof)?;
            if let Some(values) = carried {
                self.globals.restore(&mut store, instance, values)?;
            }
            set_proof_active(&mut store, instance, proof)?;
            if proof {
                self.globals.count_proof(&mut store, instance)?;
            }
            metrics.create = created.elapsed();
            let memory1 = instance.get_memory(&mut store, EXPORT_EPHEMERAL_MEMORY);
            let mut session = Session { store: &mut store, instance, memory0, memory1, split: self.split, view: is_view };
            let entered = crate::guest_memory::Entered::new(session.memories());
            let result = timed(metrics, || f(&mut session));
            drop(entered);
            (metrics.memory0_pages, metrics.memory1_peak_pages) = session.pages();
            metrics.heap = session.heap();
            if result.is_ok() && !self.memory0.forks(proof) {
                captured = Some(self.globals.capture(&mut store, instance));
            }
            metrics.memory0_proof_pages = metrics.memory0_pages;
            metrics.memory0_pages = self.memory0.pages();
            #[cfg(target_os = "linux")]
            if let (true, Some(view), Some(split)) = (self.memory0.forks(proof), memory1, self.split) {
                let persistent = self.memory0.pages() * multimem_transform::PAGE;
                let grown = metrics.memory0_proof_pages * multimem_transform::PAGE;
                let pages = crate::fork::Touched::of(view.data_ptr(&store), persistent, grown, split as u64, view.data_size(&store) as u64);
                (metrics.cow_pages, metrics.fresh_pages) = (pages.copied, pages.fresh);
            }
            result
        })();
        let dropped = Instant::now();
        drop(store);
        metrics.drop = dropped.elapsed();
        (result, captured)
    }
}

/// One call or proof on the single instance of the in-place and baseline strategies.
struct SingleOn<'a, T: 'static> {
    globals: &'a Globals,
    split: Option<u32>,
    store: &'a mut Store<T>,
    instance: Instance,
    memory0: Memory0,
    memory1: Option<Memory>,
    fail_release: bool,
}

impl<T: 'static> SingleOn<'_, T> {
    fn session<R>(self, ticks: u64, proof: bool, metrics: &mut ProofMetrics, f: impl FnOnce(&mut Session<'_, T>) -> Result<R>) -> Result<R> {
        let SingleOn { globals, split, store, instance, memory0, memory1, fail_release } = self;
        store.set_epoch_deadline(ticks);
        let before = globals.capture(store, instance);
        // The instance outlives the call: a panic in `f` (or in a host import it
        // reaches) must still restore the globals and give memory 1 back.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if memory1.is_some() {
                set_proof_active(store, instance, proof)?;
                if proof {
                    globals.count_proof(store, instance)?;
                }
            }
            let mut session = Session { store: &mut *store, instance, memory0, memory1, split, view: false };
            let entered = crate::guest_memory::Entered::new(session.memories());
            let result = timed(metrics, || f(&mut session));
            drop(entered);
            (metrics.memory0_pages, metrics.memory1_peak_pages) = session.pages();
            metrics.memory0_proof_pages = metrics.memory0_pages;
            metrics.heap = session.heap();
            result
        }));
        let restored = match &result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) | Err(_) => globals.restore(store, instance, &before),
        };
        let off = if memory1.is_some() { set_proof_active(store, instance, false) } else { Ok(()) };
        if let (Some(memory1), true) = (memory1, proof) {
            let start = Instant::now();
            let (ptr, len) = (memory1.data_ptr(&*store), memory1.data_size(&*store));
            let released = if fail_release { Err(anyhow::anyhow!("injected release failure")) } else { release_pages(ptr, len) };
            if released.is_err() {
                // The pages stay resident, but the next proof must still find a fresh heap.
                // SAFETY: memory 1's own bytes, and no guest code runs.
                unsafe { std::ptr::write_bytes(ptr, 0, len) };
                metrics.release_failed = true;
            }
            metrics.drop = start.elapsed();
        }
        let result = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        result.and_then(|r| restored.and(off).map(|()| r))
    }
}

fn timed<R>(metrics: &mut ProofMetrics, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    metrics.wall = start.elapsed();
    r
}

/// Writes memory 0's initial contents (its former active data segments) once.
fn apply_data(memory0: &SharedMemory, data: &[(u32, Vec<u8>)]) -> Result<()> {
    let memory = memory0.data();
    for (offset, bytes) in data {
        let end = *offset as usize + bytes.len();
        ensure!(end <= memory.len(), "data segment at {offset:#x} is out of bounds of memory 0");
        // SAFETY: in bounds, and no instance runs yet.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), memory[*offset as usize].get(), bytes.len()) };
    }
    Ok(())
}

/// Gives memory 1's pages back to the OS; they read as zero afterwards, so the
/// guest's ephemeral heap starts afresh in the pages memory 1 already has.
fn release_pages(ptr: *mut u8, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: the range is memory 1's private anonymous mapping, and no guest code runs.
    let rc = unsafe { libc::madvise(ptr.cast(), len, libc::MADV_DONTNEED) };
    ensure!(rc == 0, "releasing memory 1's pages: {}", std::io::Error::last_os_error());
    Ok(())
}

/// Memory 0: the transformed module's export, else the first exported memory (shared ones too: threaded guests).
fn first_exported_memory<T>(store: &mut Store<T>, instance: Instance) -> Option<Memory0> {
    let exports: Vec<(String, Extern)> = instance.exports(&mut *store).map(|e| (e.name().to_owned(), e.into_extern())).collect();
    let memory = |e: Extern| match e {
        Extern::Memory(m) => Some(Memory0::Local(m)),
        Extern::SharedMemory(m) => Some(Memory0::Shared(m)),
        _ => None,
    };
    let named = exports.iter().find(|(name, _)| name == EXPORT_PERSISTENT_MEMORY).and_then(|(_, e)| memory(e.clone()));
    named.or_else(|| exports.into_iter().find_map(|(_, e)| memory(e)))
}

/// Serves an untransformed guest's `multimem.*` imports: no memory 1, no proof.
fn define_untransformed_answers<T: 'static>(linker: &mut Linker<T>) -> Result<()> {
    let split = multimem_transform::DEFAULT_SPLIT;
    let answer = |name| abi::untransformed_answer(name, split).expect("known import");
    let (size, active, split) = (answer(abi::EPHEMERAL_SIZE), answer(abi::PROOF_ACTIVE), answer(abi::SPLIT));
    let failed_grow = answer(abi::EPHEMERAL_GROW);
    linker.func_wrap(IMPORT_MODULE, abi::EPHEMERAL_SIZE, move || size)?;
    linker.func_wrap(IMPORT_MODULE, abi::EPHEMERAL_GROW, move |_: i32| failed_grow)?;
    linker.func_wrap(IMPORT_MODULE, abi::PROOF_ACTIVE, move || active)?;
    linker.func_wrap(IMPORT_MODULE, abi::SPLIT, move || split)?;
    Ok(())
}
