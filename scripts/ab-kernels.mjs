#!/usr/bin/env node
// A/B of two kernel builds in one process: `bench --kernels`' cases, each run on
// the baseline and the candidate build (SIMD and scalar), alternating every ~2 ms
// so that the shared machine's drift hits all four alike.
//
//   node scripts/ab-kernels.mjs --base DIR [--new DIR] [--filter TEXT] [--rounds N]
//
// DIR holds kernels.simd.wasm and kernels.scalar.wasm (e.g. a copy of pkg/ made
// before a change: `cp -r pkg /tmp/base`); --new defaults to pkg/. Needs the
// compiled TypeScript (`npm run build`). Prints, per case, GFLOP/s of each build,
// new/base speed-ups and each build's SIMD/scalar ratio, the ratios as medians of
// per-round ratios.
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { instantiateBackend } = await import(join(root, 'dist/backend/load.js'));
const { kernelCases } = await import(join(root, 'dist/bench/kernels.js'));
const { interleavedRounds, median } = await import(join(root, 'dist/bench/timing.js'));

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const base = flag('--base');
if (!base) {
  console.error('usage: node scripts/ab-kernels.mjs --base DIR [--new DIR] [--filter TEXT] [--rounds N] [--min-ms N]');
  process.exit(2);
}
const cand = flag('--new', join(root, 'pkg'));
const filter = flag('--filter', '');
const rounds = Number(flag('--rounds', '7'));
const minMs = Number(flag('--min-ms', '60'));

async function load(dir, name) {
  const bytes = await readFile(join(dir, `kernels.${name}.wasm`));
  return instantiateBackend(name, await WebAssembly.compile(bytes));
}
const builds = [
  ['simd base', await load(base, 'simd')],
  ['simd new', await load(cand, 'simd')],
  ['scalar base', await load(base, 'scalar')],
  ['scalar new', await load(cand, 'scalar')],
];

const f = (x, d = 1) => x.toFixed(d).padStart(6);
console.log(`A/B: base ${base} vs new ${cand}; ${rounds} interleaved rounds, GFLOP/s medians`);
console.log(`${'case'.padEnd(16)} ${'simd:b'.padStart(6)} ${'simd:n'.padStart(6)}  ${'new/b'.padStart(6)} | ${'scal:b'.padStart(6)} ${'scal:n'.padStart(6)}  ${'new/b'.padStart(6)} | ${'ratio b'.padStart(7)} ${'ratio n'.padStart(7)}`);
for (const c of kernelCases()) {
  if (filter && !c.name.includes(filter)) continue;
  const runs = builds.map(([, be]) => c.setup(be));
  const t = interleavedRounds(runs.map((r) => r.run), { rounds, minMs });
  runs.forEach((r) => r.free());
  const g = t.map((s) => c.flops / median(s) / 1e9);
  const per = (i, j) => median(t[i].map((x, r) => t[j][r] / x));
  console.log(`${c.name.padEnd(16)} ${f(g[0])} ${f(g[1])}  ${f(per(1, 0), 3)} | ${f(g[2])} ${f(g[3])}  ${f(per(3, 2), 3)} | ${f(per(0, 2), 2).padStart(7)} ${f(per(1, 3), 2).padStart(7)}`);
}
