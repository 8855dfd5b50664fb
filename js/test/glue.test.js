// Real glue, as published on npm, with transformed modules in Node 22:
// sql.js (emscripten) and acvm_js (wasm-bindgen, web target). Each first as a
// drop-in (the glue unchanged, only the .wasm swapped), then driven by the JS
// host (a fresh instance and memory 1 per proof, memory 0 for life).
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Prover } from '../src/index.js';
import { inputs } from './inputs.js';

const input = inputs();
const modules = process.env.MULTIMEM_NODE_MODULES;
const require = createRequire(join(modules, 'noop.js'));

/** A fresh copy of the sql.js glue (it keeps one module per load). */
function freshSqlJs() {
  delete require.cache[require.resolve('sql.js')];
  return require('sql.js');
}

/** A fresh copy of acvm_js's web glue (its `wasm` is module state, set once). */
function freshAcvm(tag) {
  const url = pathToFileURL(join(modules, '@noir-lang/acvm_js/web/acvm_js.js'));
  return import(`${url.href}?${tag}`);
}

function sqlWork(SQL) {
  const db = new SQL.Database();
  db.run('CREATE TABLE t (x INTEGER, name TEXT)');
  const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
  for (let i = 1; i <= 1000; i++) insert.run([i, `row ${i}`]);
  insert.free();
  const [{ values }] = db.exec("SELECT count(*), sum(x), max(name) FROM t WHERE name LIKE 'row 9%'");
  db.close();
  return values[0];
}

// 111 rows match 'row 9%': 9, 90-99, 900-999.
const SQL_ANSWER = [111, 9 + 945 + 94950, 'row 999'];

test('sql.js (emscripten): the transformed module drops in for the original', async () => {
  const initSqlJs = freshSqlJs();
  // locateFile points the unchanged glue at a folder holding only the transformed module.
  const SQL = await initSqlJs({ locateFile: (file) => input.path(file) });
  assert.deepEqual(sqlWork(SQL), SQL_ANSWER);
});

test('sql.js under the JS host: a database opened outside proofs lives on through per-proof instances', async () => {
  const prover = await Prover.load(input.bytes('sql-wasm.host.wasm'));
  const initSqlJs = freshSqlJs();
  const SQL = await initSqlJs({ instantiateWasm: prover.instantiateWasm });
  const db = new SQL.Database();
  db.run('CREATE TABLE log (proof INTEGER, note TEXT)');
  const memory0 = [];
  for (let proof = 1; proof <= 5; proof++) {
    const { value, metrics } = prover.prove(() => {
      // A fresh database inside the proof, and a row added to the long-lived one.
      const answer = sqlWork(SQL);
      db.run('INSERT INTO log VALUES (?, ?)', [proof, `proof ${proof}`]);
      return answer;
    });
    assert.deepEqual(value, SQL_ANSWER, `proof ${proof}`);
    memory0.push(metrics.memory0Pages);
  }
  const [{ values }] = db.exec('SELECT count(*), sum(proof), max(note) FROM log');
  assert.deepEqual(values[0], [5, 15, 'proof 5'], 'rows written by five proof instances are all in memory 0');
  console.log(`sql.js under the JS host: memory 0 pages per proof ${memory0.join(', ')}`);
  db.close();
});

test('acvm_js (wasm-bindgen): the transformed module drops in for the original', async () => {
  const acvm = await freshAcvm('drop-in');
  acvm.initSync(input.bytes('acvm_js_bg.wasm'));
  const data = new TextEncoder().encode('multimem '.repeat(1000));
  assert.deepEqual(Buffer.from(acvm.blake2s256(data)), createHash('blake2s256').update(data).digest());
  const witness = new Map([[1, '0x0000000000000000000000000000000000000000000000000000000000000007']]);
  assert.deepEqual(acvm.decompressWitness(acvm.compressWitness(witness)), witness);
});

test('acvm_js under the JS host: its init re-routed, every call in a proof of its own', async () => {
  const prover = await Prover.load(input.bytes('acvm_js_bg.host.wasm'));
  const acvm = await freshAcvm('host');
  prover.intercept(() => acvm.initSync(prover.module));
  for (let proof = 1; proof <= 5; proof++) {
    const data = new TextEncoder().encode(`proof ${proof} `.repeat(500 * proof));
    const { value } = prover.prove(() => acvm.blake2s256(data));
    assert.deepEqual(Buffer.from(value), createHash('blake2s256').update(data).digest(), `proof ${proof}`);
  }
  // Outside proofs the glue runs on the long-lived instance.
  const witness = new Map([[3, '0x0000000000000000000000000000000000000000000000000000000000000001']]);
  assert.deepEqual(acvm.decompressWitness(acvm.compressWitness(witness)), witness);
});
