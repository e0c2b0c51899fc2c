#!/usr/bin/env node
// A/B of two builds of the worker pool in one process: training steps of
// lenet5-bn (or --model) at batch 128 (or --batch) on W workers (--workers,
// default 2), the baseline checkout's pool, this checkout's pool and one
// worker (this thread, this checkout) in interleaved rounds (40 of at least
// 100 ms each by default: short rounds follow the machine's drift). Prints each
// pool's speed-up over one worker and new/base, medians of per-round ratios.
//
//   node scripts/ab-workers.mjs --base-root CHECKOUT [--model NAME] [--batch N] [--workers W] [--rounds N] [--min-ms MS]
//
// CHECKOUT is another checkout with its own dist/ and pkg/ (`git worktree add
// /tmp/base HEAD`, symlink node_modules, `npx tsc -p tsconfig.build.json`).
// Needs `npm run build` here too. The machines are noisy: the ratios, measured
// side by side, are what to read, not the absolute times.
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const baseRoot = flag('--base-root');
if (!baseRoot) {
  console.error('usage: node scripts/ab-workers.mjs --base-root CHECKOUT [--model NAME] [--batch N] [--workers W] [--rounds N] [--min-ms MS]');
  process.exit(2);
}
const model = flag('--model', 'lenet5-bn');
const batch = Number(flag('--batch', '128'));
const workers = Number(flag('--workers', '2'));
const rounds = Number(flag('--rounds', '40'));
const minMs = Number(flag('--min-ms', '100'));

const { benchBatch } = await import(join(root, 'dist/bench/models.js'));
const { interleavedRoundsAsync, median, medianRatio } = await import(join(root, 'dist/bench/timing.js'));
const b = benchBatch(batch);
const data = { images: b.images, labels: b.labels, count: batch };

/** A training step of the library as compiled in checkout `r`, on `w` workers (1: this thread). */
async function contender(r, w) {
  const { instantiateBackend } = await import(join(r, 'dist/backend/load.js'));
  const { createPreset } = await import(join(r, 'dist/models/presets.js'));
  const { optimizerFromConfig } = await import(join(r, 'dist/optim/optimizer.js'));
  const { TrainingPool } = await import(join(r, 'dist/parallel/pool.js'));
  const be = await instantiateBackend('simd', await WebAssembly.compile(await readFile(join(r, 'pkg/kernels.simd.wasm'))));
  const { model: m, recipe } = createPreset(model, { backend: be, seed: 1 });
  const opt = optimizerFromConfig(recipe.optimizer);
  let step = 0;
  if (w === 1) return { fn: async () => { m.trainStep(data, null, 0, batch, opt, step++); }, close: () => {} };
  const pool = await TrainingPool.create(m.net ?? m, data, w, batch); // the engine (checkouts since the engine split) or the model (before)
  return {
    pool,
    fn: async () => {
      const t0 = performance.now();
      await pool.step(null, 0, batch, step++);
      const t1 = performance.now();
      opt.step(be, m.params());
      m.weightsChanged();
      pool.countStep(performance.now() - t0, pool.lastMainMs + performance.now() - t1);
    },
    close: () => pool.dispose(),
  };
}

const cs = [await contender(root, 1), await contender(baseRoot, workers), await contender(root, workers)];
for (const c of cs) for (let i = 0; i < 20; i++) await c.fn();
for (const c of cs) c.pool?.resetTiming();
console.log(`A/B ${model}, batch ${batch}, ${workers} workers: base ${baseRoot} vs new ${root}; ${rounds} interleaved rounds`);
const [one, base, cand] = await interleavedRoundsAsync(cs.map((c) => c.fn), { rounds, minMs, warmup: 0 });
const ms = (t) => `${(median(t) * 1000).toFixed(2)} ms`;
const split = (p) => {
  const t = p.timing();
  return `step ${t.step.toFixed(2)}: compute ${t.compute.toFixed(2)} wait ${t.wait.toFixed(2)} copies ${(t.copyIn + t.leafCopy).toFixed(2)} reduce ${t.reduce.toFixed(2)} main ${t.main.toFixed(2)}`;
};
console.log(`  1 worker   ${ms(one)}`);
console.log(`  base pool  ${ms(base)}  ${medianRatio(base, one).toFixed(3)}x of 1 worker   (${split(cs[1].pool)})`);
console.log(`  new pool   ${ms(cand)}  ${medianRatio(cand, one).toFixed(3)}x of 1 worker   (${split(cs[2].pool)})`);
console.log(`  new/base   ${medianRatio(cand, base).toFixed(3)}`);
for (const c of cs) await c.close();
process.exit(0);
