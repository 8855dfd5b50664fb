// Proof time and RSS per proof: the guest untransformed in Node (baseline),
// under the JS host in Node (with and without a collection after each proof),
// and under the wasmtime runtime (`multimem prove`, baseline and recreate),
// each approach in a process of its own, on the same seeds. A benchmark, not
// a test: it prints a table and the ratios; timings are the machine's.
//
//   node js/bench/compare.mjs --multimem target/release/multimem --constraints 4096 --proofs 10
//        [--guest groth16|groth16-nosdk|halo2] [--wasm PATH] [--repeat 2] [--leak BYTES]
//
// The Node running this script runs the Node rows (22 or newer). --wasm is the
// untransformed guest (default: the reference prover cargo builds into
// target/guest); it is transformed here with `multimem transform
// --import-persistent --import-ephemeral`, timed apart.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const args = parse(process.argv.slice(2));
const multimem = args.multimem ?? join(root, 'target/release/multimem');
const guest = args.guest ?? 'groth16';
const builds = { groth16: 'release/groth16_guest.wasm', 'groth16-nosdk': 'release-nosdk/groth16_guest.wasm', halo2: 'release/halo2_guest.wasm' };
const wasm = args.wasm ?? join(root, 'target/guest/wasm32-unknown-unknown', builds[guest]);
// Circuit size as `multimem prove` takes it: constraints, or rows for halo2 (whose setup takes k).
const constraints = args.constraints ?? '4096';
const setupArg = guest === 'halo2' ? String(Math.log2(Number(constraints))) : constraints;
const proofs = args.proofs ?? '10';
const repeat = Number(args.repeat ?? 1);
const leak = args.leak ?? '0';

const scratch = mkdtempSync(join(tmpdir(), 'multimem-bench-'));
const hosted = join(scratch, 'guest.host.wasm');
const t = performance.now();
execFileSync(multimem, ['transform', wasm, '-o', hosted, '--import-persistent', '--import-ephemeral']);

const transformMs = performance.now() - t;

const runs = {
  'node baseline': () => node(['baseline', wasm]),
  'node JS host': () => node(['host', hosted]),
  'node JS host + collect': () => node(['host', hosted], ['collect']),
  'wasmtime baseline': () => wasmtime('baseline'),
  'wasmtime recreate': () => wasmtime('recreate'),
};

// Interleaved rounds: each round runs every approach once, so drift in the machine hits them alike.
const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let round = 0; round < repeat; round++) {
  for (const [name, run] of Object.entries(runs)) results[name].push(...run());
}
rmSync(scratch, { recursive: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b) => (b / 2 ** 20).toFixed(1);
const base = median(results['node baseline'].map((r) => r.wallMs));
const wasmtimeBase = median(results['wasmtime baseline'].map((r) => r.wallMs));
console.log(`guest ${guest}, ${constraints} constraints, ${proofs} proofs x ${repeat} runs, ${leak} bytes leaked per proof; Node ${process.version}; transform ${transformMs.toFixed(0)} ms`);
console.log('| approach | proof ms (median) | vs Node baseline | vs wasmtime baseline | fresh ms | RSS after proof 1 MiB | RSS after last MiB | max RSS MiB | memory 0 MiB | memory 1 MiB |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [name, rows] of Object.entries(results)) {
  const wall = median(rows.map((r) => r.wallMs));
  const fresh = median(rows.map((r) => r.freshMs ?? 0));
  const perRun = rows.filter((r) => r.seed === 1);
  const first = median(perRun.map((r) => r.rssBytes));
  const last = median(rows.filter((r) => r.seed === Number(proofs)).map((r) => r.rssBytes));
  const max = Math.max(...rows.map((r) => r.rssBytes));
  const m0 = rows.at(-1).memory0Pages * 65536;
  const m1 = Math.max(...rows.map((r) => r.memory1Pages)) * 65536;
  console.log(`| ${name} | ${wall.toFixed(0)} | ${(wall / base).toFixed(3)} | ${(wall / wasmtimeBase).toFixed(3)} | ${name.includes('baseline') ? '–' : fresh.toFixed(2)} | ${mib(first)} | ${mib(last)} | ${mib(max)} | ${mib(m0)} | ${mib(m1)} |`);
}

function node(approachArgs, extra = []) {
  const out = execFileSync(process.execPath, ['--expose-gc', join(here, 'run.mjs'), ...approachArgs, setupArg, proofs, ...extra, `leak=${leak}`], { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  return lines(out).map((r) => ({ ...r, freshMs: (r.createMs ?? 0) + (r.dropMs ?? 0) }));
}

function wasmtime(strategy) {
  const out = execFileSync(multimem, ['prove', '--strategy', strategy, '--constraints', constraints, '--proofs', proofs, '--leak', leak, '--json', ...(guest === 'groth16' ? [] : ['--guest', guest])], { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  return lines(out).map((r) => {
    if (!r.ok) throw new Error(`wasmtime ${strategy} proof ${r.proof}: ${r.error}`);
    return {
      seed: r.proof,
      wallMs: r.wall_ms,
      freshMs: (r.create_us + r.drop_us) / 1000,
      rssBytes: r.rss_bytes,
      memory0Pages: r.memory0_pages,
      memory1Pages: r.memory1_peak_pages,
    };
  });
}

function lines(buffer) {
  return buffer.toString().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function parse(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
