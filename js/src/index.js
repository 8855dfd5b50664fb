// multimem's JavaScript host: memory 0 for the prover's life, a fresh memory 1 per proof.
//
// The module must be transformed for a host that supplies both memories:
//
//     multimem transform prover.wasm -o prover.mm.wasm --import-persistent --import-ephemeral
//
// A WebAssembly memory only grows and is freed only with everything that
// references it, so memory 1 is given back by dropping it: each proof runs in
// an instance of its own, made against memory 0 and a new memory 1, and both
// go to the garbage collector when the proof ends. Outside proofs a long-lived
// instance with an empty memory 1 that cannot grow serves the setup calls.
// Mutable globals (the stack pointer among them) and the tables a host fills
// pass from one instance to the next, as the wasmtime runtime's recreate
// strategy carries globals from Store to Store.

const PAGE = 65536;
// The engine's own constructors, whatever `intercept` does to the namespace meanwhile.
const { Instance, instantiate } = WebAssembly;
const HOST_SECTION = 'multimem.host';
const PROOF_ACTIVE = 'multimem.proof_active';
// A routed module's proof counter: its ephemeral heap's layout alternates with
// the parity, so that a stale pointer of the last proof misses this one's heap.
const PROOF_EPOCH = 'multimem.proof_epoch';

/** Reads what a transformed module tells its host (its `multimem.host` custom section). */
export function hostSection(module) {
  const sections = WebAssembly.Module.customSections(module, HOST_SECTION);
  if (sections.length === 0) {
    throw new Error('not a module transformed by multimem (no multimem.host section)');
  }
  return JSON.parse(new TextDecoder().decode(sections[0]));
}

/** A proof that failed (a trap, or an exception from the callback); memory 1 was dropped anyway. */
export class ProofError extends Error {
  constructor(cause, metrics) {
    super(`proof failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ProofError';
    this.metrics = metrics;
  }
}

/** One instance of the prover for the duration of a call or a proof. */
export class Session {
  #split;
  #memory0;
  #memory1;

  constructor(instance, memory0, memory1, split) {
    this.instance = instance;
    this.exports = instance.exports;
    this.#memory0 = memory0;
    this.#memory1 = memory1;
    this.#split = split;
  }

  /** Memory 1 of this proof (null outside proofs): hand it to the workers of a threaded module. */
  get memory1() {
    return this.#memory1;
  }

  /** Calls export `name`. */
  call(name, ...args) {
    const f = this.#live().exports[name];
    if (typeof f !== 'function') throw new Error(`the module exports no function \`${name}\``);
    return f(...args);
  }

  /** Copies `len` bytes at guest pointer `ptr` (tagged pointers address memory 1). */
  read(ptr, len) {
    return this.view(ptr, len).slice();
  }

  /** Writes `bytes` at guest pointer `ptr`. */
  write(ptr, bytes) {
    this.view(ptr, bytes.length).set(bytes);
  }

  /** The bytes at `ptr` in place: valid until the memory grows or the session ends. */
  view(ptr, len) {
    this.#live();
    ptr = ptr >>> 0; // i32 results are signed in JavaScript: tagged pointers come back negative.
    let memory = this.#memory0;
    let offset = ptr;
    if (ptr >= this.#split) {
      memory = this.#memory1;
      offset = ptr - this.#split;
      if (memory === null) throw new Error(`pointer 0x${ptr.toString(16)} is in memory 1, which this call does not have`);
    } else if (ptr + len > this.#split) {
      throw new Error(`${len} bytes at 0x${ptr.toString(16)} cross the split`);
    }
    const buffer = memory.buffer;
    if (offset + len > buffer.byteLength) {
      throw new Error(`${len} bytes at guest pointer 0x${ptr.toString(16)} are out of bounds`);
    }
    return new Uint8Array(buffer, offset, len);
  }

  /** Pages of memory 0 and memory 1 now. */
  pages() {
    return { memory0: pagesOf(this.#memory0), memory1: this.#memory1 === null ? 0 : pagesOf(this.#memory1) };
  }

  /** Ends the session: the instance and memory 1 are no longer reachable through it. */
  close() {
    this.instance = null;
    this.exports = null;
    this.#memory1 = null;
  }

  #live() {
    if (this.instance === null) throw new Error('this session has ended (its proof is over)');
    return this.instance;
  }
}

/**
 * A transformed prover: compiled once, memory 0 for its life, memory 1 per proof.
 *
 *     const prover = await Prover.load(bytes, { imports });
 *     const { value, metrics } = prover.prove((p) => p.read(p.call('prove', 1n), 160));
 */
export class Prover {
  #spec;
  #merged = null;
  #persistent = null;
  #current = null;
  #idle;
  #exports = null;
  #ephemeralMaxPages;
  #collect;
  #proofs = 0;
  #proving = false;

  /** Compiles `source` (bytes or a `WebAssembly.Module`) and creates memory 0. */
  static async load(source, options = {}) {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
    return new Prover(module, options);
  }

  /** As {@link Prover.load}, compiling synchronously. */
  static loadSync(source, options = {}) {
    const module = source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source);
    return new Prover(module, options);
  }

  constructor(module, options = {}) {
    const spec = hostSection(module);
    if (!spec.persistent.import || !spec.ephemeral.import || !spec.init) {
      throw new Error('this host supplies both memories: transform the module with `multimem transform --import-persistent --import-ephemeral`');
    }
    this.module = module;
    this.#spec = spec;
    this.split = spec.split;
    this.shared = spec.shared;
    const cap = spec.split / PAGE;
    // Capped at the split here, on the host side: the module keeps its declared limits.
    this.memory0 = options.memory0 ?? new WebAssembly.Memory({
      initial: spec.persistent.initial,
      maximum: Math.min(spec.persistent.maximum ?? cap, cap),
      shared: spec.shared,
    });
    this.#collect = options.collect ?? null;
    const limit = options.maxEphemeralBytes;
    this.#ephemeralMaxPages = limit === undefined ? spec.ephemeral.maximum : Math.min(spec.ephemeral.maximum, Math.floor(limit / PAGE));
    // Memory 1 outside proofs: empty, and it cannot grow.
    this.#idle = new WebAssembly.Memory({ initial: 0, maximum: 0, shared: spec.shared });
    // Emscripten's hook: `initSqlJs({ instantiateWasm: prover.instantiateWasm })`.
    this.instantiateWasm = (imports, receive) => {
      this.start(imports);
      receive(this.instance, this.module);
      return {};
    };
    if (options.imports !== undefined) this.start(options.imports);
  }

  /**
   * Instantiates the long-lived instance against `imports` (the module's own
   * imports; the host adds both memories), applies memory 0's data and runs the
   * start function, once. Returns {@link Prover.instance}.
   */
  start(imports = {}) {
    if (this.#persistent !== null) throw new Error('the prover has started already');
    const merged = { ...imports };
    const [m0, n0] = this.#spec.persistent.import;
    merged[m0] = { ...merged[m0], [n0]: this.memory0 };
    const [m1, n1] = this.#spec.ephemeral.import;
    merged[m1] = { ...merged[m1], [n1]: this.#idle };
    this.#merged = merged;
    this.#persistent = new Instance(this.module, merged);
    ownFunctionsOf(this.#persistent, this.#spec); // before a glue adds any
    this.#current = this.#persistent;
    this.#persistent.exports[this.#spec.init]();
    return this.instance;
  }

  /**
   * Exports that forward to whichever instance is current (the proof's during a
   * proof): what glue code holds instead of an instance's own exports. Memory
   * exports are memory 0.
   */
  get exports() {
    if (this.#exports === null) {
      const out = {};
      for (const { name, kind } of WebAssembly.Module.exports(this.module)) {
        if (kind === 'function') {
          out[name] = (...args) => this.#live().exports[name](...args);
        } else {
          Object.defineProperty(out, name, { get: () => this.#live().exports[name], enumerable: true });
        }
      }
      this.#exports = Object.freeze(out);
    }
    return this.#exports;
  }

  /** An object glue code takes for the instance: `instance.exports` is {@link Prover.exports}. */
  get instance() {
    return Object.create(Instance.prototype, { exports: { value: this.exports, enumerable: true } });
  }

  /**
   * Runs `init`, a glue's own initialisation (wasm-bindgen's `initSync` or
   * `init`), with WebAssembly's instantiation of {@link Prover.module} routed
   * to {@link Prover.start}: the glue gets {@link Prover.instance}. Pass
   * `prover.module` to the glue. Returns what `init` returns.
   */
  intercept(init) {
    const W = WebAssembly;
    const prover = this;
    function Routed(module, imports) {
      if (module === prover.module) return prover.start(imports);
      return new Instance(module, imports);
    }
    Routed.prototype = Instance.prototype;
    W.Instance = Routed;
    W.instantiate = function (source, imports) {
      if (source !== prover.module) return instantiate.call(W, source, imports);
      try {
        return Promise.resolve(prover.start(imports));
      } catch (e) {
        return Promise.reject(e);
      }
    };
    const restore = () => {
      W.Instance = Instance;
      W.instantiate = instantiate;
    };
    let result;
    try {
      result = init();
    } catch (e) {
      restore();
      throw e;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      return Promise.resolve(result).finally(restore);
    }
    restore();
    return result;
  }

  /** Memory 0's size in pages. */
  get memory0Pages() {
    return pagesOf(this.memory0);
  }

  /** Calls export `name` with no proof active (setup, verification): what it allocates stays in memory 0. */
  call(name, ...args) {
    return this.run((s) => s.call(name, ...args));
  }

  /** Runs `fn` with no proof active (several calls, reading and writing memory 0). */
  run(fn) {
    if (this.#proving) throw new Error('a proof is running: use its session');
    const session = new Session(this.#started(), this.memory0, null, this.split);
    try {
      return fn(session);
    } finally {
      session.close();
    }
  }

  /**
   * Runs one proof: a fresh memory 1 and instance, the proof flag on, `fn`
   * (which calls the prove export and copies out what it needs), then the
   * instance and memory 1 are dropped whether `fn` returned or threw. Returns
   * `{ value, metrics }`; throws a {@link ProofError} (with `metrics`) on
   * failure, and the mutable globals are then as before the proof.
   *
   * The engine frees memory 1 when it collects the instance: at once with
   * the `collect` option (for example `globalThis.gc` under
   * `node --expose-gc`), else at its next collection, which for small
   * memories may be many proofs later.
   */
  prove(fn) {
    return this.#finish(this.#proveIn(fn));
  }

  /** As {@link Prover.prove}, instantiating asynchronously and awaiting `fn`. */
  async proveAsync(fn) {
    return this.#finish(await this.#proveInAsync(fn));
  }

  // Everything that references the proof's instance and memory 1 lives in
  // these frames, which have returned when `collect` runs.
  #proveIn(fn) {
    const started = performance.now();
    const memory1 = this.#newMemory1();
    const proof = this.#begin(() => new Instance(this.module, this.#withMemory1(memory1)), memory1, started);
    let value;
    let failure = null;
    try {
      value = fn(proof.session);
    } catch (error) {
      failure = { error };
    }
    return this.#end(proof, value, failure);
  }

  async #proveInAsync(fn) {
    const started = performance.now();
    const memory1 = this.#newMemory1();
    let instance;
    try {
      instance = await instantiate(this.module, this.#withMemory1(memory1));
    } catch (e) {
      this.#proving = false;
      throw e;
    }
    const proof = this.#begin(() => instance, memory1, started);
    let value;
    let failure = null;
    try {
      value = await fn(proof.session);
    } catch (error) {
      failure = { error };
    }
    return this.#end(proof, value, failure);
  }

  /** Collects (when asked to) and reports. */
  #finish({ value, metrics, failure }) {
    if (this.#collect !== null) {
      const dropped = performance.now();
      this.#collect();
      metrics.dropMs = performance.now() - dropped;
    }
    Object.assign(metrics, memoryUsage());
    if (failure !== null) throw new ProofError(failure.error, metrics);
    return { value, metrics };
  }

  #newMemory1() {
    this.#started();
    if (this.#proving) throw new Error('a proof is running already');
    this.#proving = true;
    return new WebAssembly.Memory({ initial: 0, maximum: this.#ephemeralMaxPages, shared: this.shared });
  }

  /** The imports with `memory1` in memory 1's place (the long-lived ones keep the idle memory). */
  #withMemory1(memory1) {
    const [m1, n1] = this.#spec.ephemeral.import;
    return { ...this.#merged, [m1]: { ...this.#merged[m1], [n1]: memory1 } };
  }

  /** The proof's instance made and entered; a failure here ends the proof before it began. */
  #begin(make, memory1, started) {
    let instance;
    try {
      instance = make();
      carry(this.#persistent, instance, this.#spec);
    } catch (e) {
      this.#proving = false;
      throw e;
    }
    const epoch = instance.exports[PROOF_EPOCH];
    if (epoch !== undefined) epoch.value = this.#proofs | 0;
    this.#proofs++;
    instance.exports[PROOF_ACTIVE].value = 1;
    this.#current = instance;
    const session = new Session(instance, this.memory0, memory1, this.split);
    const createMs = performance.now() - started;
    return { instance, memory1, session, createMs, began: performance.now() };
  }

  #end(proof, value, failure) {
    const wallMs = performance.now() - proof.began;
    if (failure === null) carry(proof.instance, this.#persistent, this.#spec);
    this.#current = this.#persistent;
    this.#proving = false;
    const memory1Pages = pagesOf(proof.memory1);
    proof.session.close();
    const metrics = { createMs: proof.createMs, wallMs, memory0Pages: this.memory0Pages, memory1Pages };
    return { value, metrics, failure };
  }

  #started() {
    if (this.#persistent === null) throw new Error('the prover has not started: pass `imports` to load, or call start(imports)');
    return this.#persistent;
  }

  #live() {
    if (this.#current === null) throw new Error('the prover has not started: its glue has not instantiated it yet');
    return this.#current;
  }
}

/**
 * The functions each instance's element segments put in its funcref tables:
 * entries other than these were put there by the host (emscripten's
 * `addFunction`) and are carried; these never are, so that no function of a
 * dropped instance outlives it.
 */
const ownFunctions = new WeakMap();

function ownFunctionsOf(instance, spec) {
  let own = ownFunctions.get(instance);
  if (own === undefined) {
    own = new Set();
    for (const { export: name, element } of spec.tables) {
      if (element !== 'funcref') continue;
      const table = instance.exports[name];
      for (let i = 0; i < table.length; i++) {
        const entry = table.get(i);
        if (entry !== null) own.add(entry);
      }
    }
    ownFunctions.set(instance, own);
  }
  return own;
}

/** Mutable globals and the module's exported tables pass from instance `from` to instance `to`. */
function carry(from, to, spec) {
  for (const name of spec.globals) {
    to.exports[name].value = from.exports[name].value;
  }
  if (spec.tables.length === 0) return;
  const own = ownFunctionsOf(from, spec);
  ownFunctionsOf(to, spec);
  for (const { export: name, element } of spec.tables) {
    const source = from.exports[name];
    const target = to.exports[name];
    const all = element !== 'funcref';
    for (let i = 0; i < source.length; i++) {
      const entry = source.get(i);
      if (!all && (entry === null || own.has(entry))) continue;
      if (i >= target.length) target.grow(i + 1 - target.length);
      target.set(i, entry);
    }
  }
}

function pagesOf(memory) {
  return memory.buffer.byteLength / PAGE;
}

/** The process's resident set and ArrayBuffer bytes where the platform tells (Node). */
function memoryUsage() {
  const usage = globalThis.process?.memoryUsage?.();
  return usage === undefined ? {} : { rssBytes: usage.rss, arrayBuffersBytes: usage.arrayBuffers };
}
