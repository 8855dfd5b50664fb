// One approach in a process of its own (RSS is per process): prints one JSON
// line per proof. Drives a guest with the reference C ABI (setup(constraints),
// prove(seed), proof_ptr(), proof_len()): the Groth16 reference and the halo2 guest.
//
//   node --expose-gc js/bench/run.mjs baseline GUEST.wasm CONSTRAINTS PROOFS
//   node --expose-gc js/bench/run.mjs host GUEST.host.wasm CONSTRAINTS PROOFS [collect] [leak=BYTES]
import { readFileSync } from 'node:fs';
import { Prover } from '../src/index.js';

const [approach, path, constraints, proofs, ...rest] = process.argv.slice(2);
const collect = rest.includes('collect') ? 'collect' : undefined;
const leak = Number(rest.find((a) => a.startsWith('leak='))?.slice(5) ?? 0);
const bytes = readFileSync(path);
const split = 0x8000_0000;
const usage = () => {
  const u = process.memoryUsage();
  return { rssBytes: u.rss, arrayBuffersBytes: u.arrayBuffers };
};
const gc = globalThis.gc;
const collectNow = collect === 'collect' ? () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) : undefined;
if (collect === 'collect' && typeof gc !== 'function') throw new Error('collect needs node --expose-gc');

const started = performance.now();
if (approach === 'baseline') {
  // The untransformed guest, one instance; its multimem imports answer "no memory 1, no proof".
  const multimem = { ephemeral_size: () => 0, ephemeral_grow: () => -1, proof_active: () => 0, split: () => split | 0 };
  const { instance } = await WebAssembly.instantiate(bytes, { multimem });
  const e = instance.exports;
  check(e.setup(Number(constraints)), 'setup');
  e.set_leak(leak);
  const setupMs = performance.now() - started;
  for (let seed = 1; seed <= Number(proofs); seed++) {
    const t = performance.now();
    check(e.prove(BigInt(seed)), 'prove');
    const proof = new Uint8Array(e.memory.buffer, e.proof_ptr() >>> 0, e.proof_len()).slice();
    const wallMs = performance.now() - t;
    print({ approach, seed, setupMs, wallMs, proofBytes: proof.length, memory0Pages: e.memory.buffer.byteLength / 65536, memory1Pages: 0, ...usage() });
  }
} else {
  const prover = await Prover.load(bytes, { imports: {}, collect: collectNow });
  check(prover.call('setup', Number(constraints)), 'setup');
  prover.call('set_leak', leak);
  const setupMs = performance.now() - started;
  for (let seed = 1; seed <= Number(proofs); seed++) {
    const { value, metrics } = prover.prove((p) => {
      check(p.call('prove', BigInt(seed)), 'prove');
      return p.read(p.call('proof_ptr'), p.call('proof_len'));
    });
    print({ approach: collectNow ? 'host+collect' : 'host', seed, setupMs, proofBytes: value.length, ...metrics });
  }
}

function check(status, what) {
  if (status !== 0) throw new Error(`${what} returned status ${status}`);
}

function print(record) {
  console.log(JSON.stringify(record));
}
