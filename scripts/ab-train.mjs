#!/usr/bin/env node
// A/B of two kernel builds on a whole model in one process: a training step
// (forward + backward + update) and inference at batch 128 on real digits, the
// baseline and the candidate build alternating every ~2 ms.
//
//   node scripts/ab-train.mjs --base DIR [--new DIR] [--model lenet5-bn] [--backend simd|scalar] [--rounds N]
//   node scripts/ab-train.mjs --base-root CHECKOUT [...]
//
// DIR holds kernels.simd.wasm and kernels.scalar.wasm (e.g. a copy of pkg/ made
// before a change); --new defaults to pkg/. Needs `npm run build`. A change of
// the TypeScript or of the kernels' ABI needs the whole baseline: --base-root
// is another checkout (`git worktree add /tmp/base HEAD`, then `npm run build`
// there), whose dist/ and pkg/ run as the baseline.
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { benchBatch } = await import(join(root, 'dist/bench/models.js'));
const { interleavedRounds, median } = await import(join(root, 'dist/bench/timing.js'));
/** The library as compiled in checkout `r` (each checkout its own modules). */
const library = async (r) => ({
  ...(await import(join(r, 'dist/backend/load.js'))),
  ...(await import(join(r, 'dist/models/presets.js'))),
  ...(await import(join(r, 'dist/optim/optimizer.js'))),
});

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const baseRoot = flag('--base-root', root);
const base = flag('--base', baseRoot === root ? undefined : join(baseRoot, 'pkg'));
if (!base) {
  console.error('usage: node scripts/ab-train.mjs --base DIR | --base-root CHECKOUT [--new DIR] [--model NAME] [--backend simd|scalar] [--rounds N]');
  process.exit(2);
}
const cand = flag('--new', join(root, 'pkg'));
const model = flag('--model', 'lenet5-bn');
const kind = flag('--backend', 'simd');
const rounds = Number(flag('--rounds', '7'));
const batch = 128;

async function runner(dir, r) {
  const { instantiateBackend, createPreset, optimizerFromConfig } = await library(r);
  const be = await instantiateBackend(kind, await WebAssembly.compile(await readFile(join(dir, `kernels.${kind}.wasm`))));
  const { model: m, recipe } = createPreset(model, { backend: be, seed: 1 });
  const opt = optimizerFromConfig(recipe.optimizer);
  const b = benchBatch(batch);
  const data = { images: b.images, labels: b.labels, count: batch };
  let step = 0;
  return { train: () => m.trainStep(data, null, 0, batch, opt, step++), infer: () => m.predict(data.images) };
}
const runs = [await runner(base, baseRoot), await runner(cand, root)];
console.log(`A/B ${model} (${kind}, batch ${batch}): base ${base} vs new ${cand}; ${rounds} rounds`);
for (const mode of ['train', 'infer']) {
  const [tb, tn] = interleavedRounds(runs.map((r) => r[mode]), { rounds, minMs: 300 });
  const ips = (t) => Math.round(batch / median(t)).toLocaleString('en-US');
  console.log(`${mode.padEnd(6)} base ${ips(tb).padStart(7)} img/s   new ${ips(tn).padStart(7)} img/s   new/base ${median(tb.map((x, r) => x / tn[r])).toFixed(3)}`);
}
