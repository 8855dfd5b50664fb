// Where the Rust side (`cargo test -p multimem-tests --test node`) put the modules for these tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function inputs() {
  const dir = process.env.MULTIMEM_NODE_INPUTS;
  if (!dir) {
    throw new Error('MULTIMEM_NODE_INPUTS is not set: run these tests through `cargo test -p multimem-tests --test node`, which builds and transforms the modules they need');
  }
  return {
    dir,
    path: (name) => join(dir, name),
    bytes: (name) => readFileSync(join(dir, name)),
    json: (name) => JSON.parse(readFileSync(join(dir, name), 'utf8')),
  };
}

export const hex = (bytes) => Buffer.from(bytes).toString('hex');
