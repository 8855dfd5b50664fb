// The reference provers under the JS host: memory 0 for the prover's life, a
// fresh memory 1 per proof. Groth16 (arkworks, BN254) allocates in memory 1
// through the guest SDK; halo2 (zcash halo2_proofs, unmodified) through the
// transformer's allocator routing. Each guest's files are in a folder of its
// own: guest.wasm (untransformed), guest.host.wasm, expected.json (the
// wasmtime runtime's proofs, seeds 1..50).
import test from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Prover, ProofError } from '../src/index.js';
import { inputs, hex } from './inputs.js';

const input = inputs();
const MiB = 1024 * 1024;
// The engine's full collection, so that each proof's memory 1 is freed when
// the proof ends rather than at V8's next collection (see the `collect`
// option). A last-resort collection also finishes freeing the ArrayBuffer
// backing stores, which a single one leaves to a later sweep.
setFlagsFromString('--expose-gc');
// Compiled once, ahead of the proofs (TurboFan, no Liftoff and no tier-up):
// V8's default tiers up functions during the first proofs, which moves RSS by
// a few MiB either way whatever the memories do.
setFlagsFromString('--no-liftoff');
setFlagsFromString('--no-wasm-dynamic-tiering');
const gcNow = runInNewContext('gc');
const gc = () => gcNow({ type: 'major', execution: 'sync', flavor: 'last-resort' });

async function loadGuest(guest, expected, options = {}) {
  const prover = await Prover.load(input.bytes(`${guest}/guest.host.wasm`), { imports: {}, collect: gc, ...options });
  assert.equal(prover.call('setup', expected.setup), 0, 'setup');
  return prover;
}

function prove(prover, seed) {
  return prover.prove((p) => {
    const status = p.call('prove', BigInt(seed));
    if (status !== 0) throw new Error(`prove returned status ${status}`);
    const ptr = p.call('proof_ptr') >>> 0;
    assert.ok(ptr >= prover.split, 'the proof bytes are in memory 1 (a tagged pointer)');
    return p.read(ptr, p.call('proof_len'));
  });
}

function verify(prover, bytes) {
  return prover.run((s) => {
    const ptr = s.call('alloc', bytes.length);
    s.write(ptr, bytes);
    const status = s.call('verify', ptr, bytes.length);
    s.call('dealloc', ptr, bytes.length);
    assert.ok(status >= 0, `verify returned status ${status}`);
    return status === 1;
  });
}

// Flat: nothing after the first proof is more than `tolerance` above it (or
// `floor` bytes: the JavaScript side's ArrayBuffers are kilobytes, wasm
// memories are not among them).
const flat = (rows, key, tolerance, floor = 0) =>
  Math.max(...rows.slice(1).map((r) => r[key])) <= rows[0][key] + Math.max(tolerance * rows[0][key], floor);

for (const guest of input.json('guests.json')) {
  const expected = input.json(`${guest}/expected.json`);

  test(`${guest}: 50 proofs verify, match the wasmtime runtime byte for byte, and memory stays flat`, async () => {
    const prover = await loadGuest(guest, expected);
    const rows = [];
    for (let seed = 1; seed <= expected.proofs.length; seed++) {
      const { value, metrics } = prove(prover, seed);
      assert.equal(hex(value), expected.proofs[seed - 1], `proof ${seed} equals the wasmtime runtime's`);
      assert.ok(verify(prover, value), `proof ${seed} verifies`);
      assert.ok(metrics.memory1Pages > 0, 'the proof ran in memory 1');
      rows.push(metrics);
    }
    const [first, last] = [rows[0], rows.at(-1)];
    const peak = (key) => Math.max(...rows.slice(1).map((r) => r[key]));
    const report = `rss ${first.rssBytes} then at most ${peak('rssBytes')}, arrayBuffers ${first.arrayBuffersBytes} then at most ${peak('arrayBuffersBytes')}`;
    console.log(`50 proofs: memory 0 ${first.memory0Pages} pages, memory 1 ${last.memory1Pages} pages per proof; ${report}`);
    assert.ok(rows.every((r) => r.memory0Pages === first.memory0Pages), 'memory 0 pages the same after every proof');
    assert.ok(flat(rows, 'rssBytes', 0.05), `RSS flat within 5% after the first proof: ${report}`);
    assert.ok(flat(rows, 'arrayBuffersBytes', 0.05, 64 * 1024), `ArrayBuffers flat within 5%: ${report}`);
  });

  test(`${guest}: 16 MiB leaked per proof: memory 0 and RSS stay flat`, async () => {
    const prover = await loadGuest(guest, expected);
    prover.call('set_leak', 16 * MiB);
    const rows = [];
    for (let seed = 1; seed <= 20; seed++) {
      const { value, metrics } = prove(prover, seed);
      assert.ok(verify(prover, value));
      assert.ok(metrics.memory1Pages * 65536 >= 16 * MiB, 'the leak is in memory 1');
      rows.push(metrics);
    }
    const [first, last] = [rows[0], rows.at(-1)];
    const report = `rss ${first.rssBytes} then at most ${Math.max(...rows.slice(1).map((r) => r.rssBytes))}`;
    console.log(`leak: memory 0 ${first.memory0Pages} -> ${last.memory0Pages} pages; ${report}`);
    assert.ok(rows.every((r) => r.memory0Pages === first.memory0Pages), 'memory 0 flat');
    // 20 leaks of 16 MiB that stayed would add 320 MiB.
    assert.ok(flat(rows, 'rssBytes', 0.05), `RSS flat within 5%: ${report}`);
    assert.ok(flat(rows, 'arrayBuffersBytes', 0.05, 64 * 1024), 'ArrayBuffers flat within 5%');
  });

  test(`${guest}: every third proof traps: the others verify, memory 0 stays flat`, async () => {
    const prover = await loadGuest(guest, expected);
    const memory0 = [];
    let traps = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const fail = seed % 3 === 0;
      prover.call('set_fail', fail ? 1 : 0);
      if (fail) {
        assert.throws(() => prove(prover, seed), (e) => e instanceof ProofError && e.cause instanceof WebAssembly.RuntimeError && e.metrics.memory1Pages > 0);
        traps++;
      } else {
        const { value, metrics } = prove(prover, seed);
        assert.equal(hex(value), expected.proofs[seed - 1]);
        assert.ok(verify(prover, value), `proof ${seed} verifies after a trap`);
        memory0.push(metrics.memory0Pages);
      }
    }
    assert.equal(traps, 4);
    assert.equal(new Set(memory0).size, 1, `memory 0 pages per proof: ${memory0}`);
  });

  test(`${guest}: a cap on memory 1 fails the proof, not the prover`, async () => {
    const prover = await loadGuest(guest, expected, { maxEphemeralBytes: 64 * 1024 });
    assert.throws(() => prove(prover, 1), ProofError);
    assert.equal(prover.call('set_leak', 0), undefined);
    const roomy = await loadGuest(guest, expected);
    assert.equal(hex(prove(roomy, 1).value), expected.proofs[0]);
  });

  test(`${guest}: the untransformed module with no-proof answers is the baseline: same proofs`, async () => {
    const split = 0x8000_0000;
    const multimem = { ephemeral_size: () => 0, ephemeral_grow: () => -1, proof_active: () => 0, split: () => split | 0 };
    const { instance } = await WebAssembly.instantiate(input.bytes(`${guest}/guest.wasm`), { multimem });
    const e = instance.exports;
    assert.equal(e.setup(expected.setup), 0);
    assert.equal(e.prove(1n), 0);
    const bytes = new Uint8Array(e.memory.buffer, e.proof_ptr() >>> 0, e.proof_len());
    assert.equal(hex(bytes), expected.proofs[0]);
  });

  test(`${guest}: one proof at a time: a second proveAsync while one runs is refused`, async () => {
    const prover = await loadGuest(guest, expected);
    const first = prover.proveAsync(async (p) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return p.call('prove', 1n);
    });
    await assert.rejects(prover.proveAsync((p) => p.call('prove', 2n)), /a proof is running already/);
    assert.equal((await first).value, 0);
    assert.equal(hex(prove(prover, 3).value), expected.proofs[2], 'the prover goes on');
  });
}
