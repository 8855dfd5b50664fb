// Drop-in output in Node 22: every corpus module, transformed with default
// options, links against what its original's host creates (memories of the
// declared type, shared ones with their `maximum: 65536`, tables, globals)
// and keeps its exports.
import test from 'node:test';
import assert from 'node:assert/strict';
import { inputs } from './inputs.js';

const input = inputs();
const manifest = input.json('manifest.json');

/** The import object a host of the original builds: functions are stubs that throw. */
function hostImports(imports) {
  const object = {};
  for (const i of imports) {
    let value;
    switch (i.kind) {
      case 'memory':
        value = new WebAssembly.Memory({ initial: i.initial, maximum: i.maximum ?? undefined, shared: i.shared });
        break;
      case 'function':
        value = () => {
          throw new Error(`stub ${i.module}.${i.name} called`);
        };
        break;
      case 'table':
        value = new WebAssembly.Table({ element: i.element, initial: i.initial });
        break;
      case 'global':
        value = new WebAssembly.Global({ value: i.type, mutable: i.mutable }, i.type === 'i64' ? 0n : 0);
        break;
      default:
        throw new Error(`${i.module}.${i.name}: cannot make a ${i.kind}`);
    }
    (object[i.module] ??= {})[i.name] = value;
  }
  return object;
}

/** Instantiates; a start function that calls a stub counts as linked. */
function link(module, imports) {
  try {
    new WebAssembly.Instance(module, hostImports(imports));
    return 'linked';
  } catch (e) {
    if (String(e.message).includes('stub ')) return 'linked';
    return `${e.name}: ${e.message}`;
  }
}

for (const { name, imports } of manifest) {
  test(`${name}: the transformed module links where the original does`, () => {
    const original = new WebAssembly.Module(input.bytes(`${name}.wasm`));
    const transformed = new WebAssembly.Module(input.bytes(`${name}.mm.wasm`));
    const shape = (m) => WebAssembly.Module.imports(m).map((i) => `${i.module}.${i.name}:${i.kind}`);
    assert.deepEqual(shape(transformed), shape(original), 'the same imports');
    const exported = new Map(WebAssembly.Module.exports(transformed).map((e) => [e.name, e.kind]));
    for (const e of WebAssembly.Module.exports(original)) {
      assert.equal(exported.get(e.name), e.kind, `export ${e.name} kept`);
    }
    const memory = imports.find((i) => i.kind === 'memory');
    if (memory) console.log(`${name}: memory 0 imported as ${memory.module}.${memory.name}, ${memory.initial}..${memory.maximum} pages${memory.shared ? ', shared' : ''}`);
    assert.equal(link(original, imports), 'linked', 'the original links');
    assert.equal(link(transformed, imports), 'linked', 'the transformed module links against the same memories');
  });
}
