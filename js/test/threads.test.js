// A threaded module under the JS host: the worker's instance imports the same
// shared memory 0 and the proof's shared memory 1, so a tagged pointer one
// thread writes, the other reads.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Prover } from '../src/index.js';
import { inputs } from './inputs.js';

const input = inputs();

// The worker instantiates the module against the memories it is sent, sets its
// own proof flag (globals are per instance, so per thread), reads what the main
// thread wrote in memory 1 and writes its answer beside it.
const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.once('message', ({ module, memories, at }) => {
  const [[m0, n0, memory0], [m1, n1, memory1]] = memories;
  const imports = { [m0]: { [n0]: memory0 } };
  (imports[m1] ??= {})[n1] = memory1;
  const instance = new WebAssembly.Instance(module, imports);
  instance.exports['multimem.proof_active'].value = 1;
  const seen = instance.exports.load(at);
  instance.exports.store(at + 4, seen + 1);
  parentPort.postMessage(seen);
});`;

test('a worker shares the proof memory 1 the host hands it', async () => {
  const prover = await Prover.load(input.bytes('threaded.host.wasm'), { imports: {} });
  assert.equal(prover.shared, true);
  for (let proof = 1; proof <= 3; proof++) {
    const { value, metrics } = await prover.proveAsync(async (s) => {
      assert.ok(s.memory1.buffer instanceof SharedArrayBuffer, 'memory 1 is shared, as memory 0 is');
      const page = s.call('grow_ephemeral', 1);
      const at = (prover.split + page * 65536 + 16) | 0;
      s.call('store', at, 40 + proof);
      const worker = new Worker(WORKER, { eval: true });
      const spec = (await import('../src/index.js')).hostSection(prover.module);
      const memories = [[...spec.persistent.import, prover.memory0], [...spec.ephemeral.import, s.memory1]];
      const seen = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ module: prover.module, memories, at });
      });
      await worker.terminate();
      return { seen, answer: s.call('load', at + 4) };
    });
    assert.deepEqual(value, { seen: 40 + proof, answer: 41 + proof }, `proof ${proof}`);
    assert.equal(metrics.memory1Pages, 1, 'a fresh memory 1 each proof');
  }
});
