/** What a transformed module tells its host (its `multimem.host` custom section). */
export interface HostSection {
  split: number;
  form: 'portable' | 'view';
  /** Whether both memories are shared (threads). */
  shared: boolean;
  persistent: MemorySpec;
  ephemeral: MemorySpec;
  /** Export the host calls once, on the first instance (`--import-persistent`). */
  init: string | null;
  /** Exported mutable globals carried from instance to instance. */
  globals: string[];
  /** Exported tables the module defines: externref ones are carried whole, funcref ones as far as the host filled them. */
  tables: { export: string; element: string }[];
}

export interface MemorySpec {
  /** `[module, name]` when the host supplies the memory. */
  import: [string, string] | null;
  initial: number;
  maximum: number | null;
}

export function hostSection(module: WebAssembly.Module): HostSection;

export interface LoadOptions {
  /** The module's own imports; the host adds both memories. Without them, call `start` (or let a glue do it). */
  imports?: WebAssembly.Imports;
  /** Memory 0 to use instead of a new one (its maximum should not pass the split). */
  memory0?: WebAssembly.Memory;
  /** Cap on one proof's memory 1, in bytes (a proof that needs more fails). */
  maxEphemeralBytes?: number;
  /**
   * Called after each proof, once nothing references its instance and memory 1,
   * to free them at once (for example `globalThis.gc` under `node --expose-gc`);
   * without it they go at the engine's next collection.
   */
  collect?: () => void;
}

/** What one proof cost. */
export interface ProofMetrics {
  /** Creating memory 1 and the instance, carrying globals in, setting the proof flag. */
  createMs: number;
  /** The callback. */
  wallMs: number;
  /** The `collect` call after the proof (only with that option). */
  dropMs?: number;
  memory0Pages: number;
  /** Memory 1's size when the proof ended (it never shrinks, so also its peak). */
  memory1Pages: number;
  /** `process.memoryUsage().rss` after the proof and the `collect` call (Node only). */
  rssBytes?: number;
  /** `process.memoryUsage().arrayBuffers` after the proof (Node only). */
  arrayBuffersBytes?: number;
}

export interface ProofResult<R> {
  value: R;
  metrics: ProofMetrics;
}

/** A proof that failed (a trap, or an exception from the callback); memory 1 was dropped anyway. */
export class ProofError extends Error {
  readonly cause: unknown;
  readonly metrics: ProofMetrics;
}

/** One instance of the prover for the duration of a call or a proof. */
export class Session {
  /** Null once the session has ended. */
  readonly instance: WebAssembly.Instance | null;
  readonly exports: WebAssembly.Exports | null;
  /** Memory 1 of this proof (null outside proofs): hand it to the workers of a threaded module. */
  readonly memory1: WebAssembly.Memory | null;
  call(name: string, ...args: unknown[]): any;
  /** Copies `len` bytes at guest pointer `ptr`; pointers at or above the split address memory 1. */
  read(ptr: number, len: number): Uint8Array;
  write(ptr: number, bytes: ArrayLike<number>): void;
  /** The bytes in place: valid until the memory grows or the session ends. */
  view(ptr: number, len: number): Uint8Array;
  pages(): { memory0: number; memory1: number };
  close(): void;
}

/** A transformed prover: compiled once, memory 0 for its life, memory 1 per proof. */
export class Prover {
  static load(source: BufferSource | WebAssembly.Module, options?: LoadOptions): Promise<Prover>;
  static loadSync(source: BufferSource | WebAssembly.Module, options?: LoadOptions): Prover;
  constructor(module: WebAssembly.Module, options?: LoadOptions);

  readonly module: WebAssembly.Module;
  readonly memory0: WebAssembly.Memory;
  readonly split: number;
  readonly shared: boolean;
  readonly memory0Pages: number;

  /** Instantiates the long-lived instance against the module's own imports; applies memory 0's data and start function once. */
  start(imports?: WebAssembly.Imports): WebAssembly.Instance;
  /** Exports that forward to the current instance (the proof's during a proof): what glue code holds. */
  readonly exports: WebAssembly.Exports;
  /** An object glue code takes for the instance; its `exports` are {@link Prover.exports}. */
  readonly instance: WebAssembly.Instance;
  /** Emscripten's `instantiateWasm` hook. */
  readonly instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => object;
  /** Runs a glue's own init (wasm-bindgen `initSync`/`init`, given `prover.module`) with its instantiation routed to {@link Prover.start}. */
  intercept<R>(init: () => R): R;

  /** Calls export `name` with no proof active: what it allocates stays in memory 0. */
  call(name: string, ...args: unknown[]): any;
  /** Runs `fn` with no proof active. */
  run<R>(fn: (session: Session) => R): R;
  /** One proof in a fresh memory 1, dropped afterwards; throws {@link ProofError} on failure. */
  prove<R>(fn: (session: Session) => R): ProofResult<R>;
  proveAsync<R>(fn: (session: Session) => R | Promise<R>): Promise<ProofResult<R>>;
}
