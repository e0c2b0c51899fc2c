#!/usr/bin/env node
// What augmentation costs a training step: lenet5-bn (or --model) at batch 128,
// a step with every augmentation on (shift, flip, rotate, scale, brightness,
// contrast) and with whole-pixel moves only (shift, flip), each side by side
// with the same step without augmentation, alternating in interleaved rounds.
//
//   node scripts/bench-augment.mjs [--model lenet5-bn] [--rounds 9]
// Needs `npm run build`.
import { initBackend } from '../dist/backend/load.js';
import { benchBatch } from '../dist/bench/models.js';
import { interleavedRounds, median } from '../dist/bench/timing.js';
import { createPreset } from '../dist/models/presets.js';
import { optimizerFromConfig } from '../dist/optim/optimizer.js';
import { trainStep } from '../dist/train/step.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const modelName = flag('--model', 'lenet5-bn'), rounds = Number(flag('--rounds', '9')), batch = 128;
const be = await initBackend({ backend: 'simd' });
const b = benchBatch(batch);
const data = { images: b.images, labels: b.labels, count: batch };
const contender = (augment) => {
  const { model, recipe } = createPreset(modelName, { backend: be, seed: 1 });
  const opt = optimizerFromConfig(recipe.optimizer);
  let step = 0;
  return () => trainStep(model.net, data, null, 0, batch, opt, step++, augment);
};
const all = { shift: 2, flip: true, rotate: 10, scale: 0.1, brightness: 0.2, contrast: 0.2 };
const [off, full, moves] = interleavedRounds([contender(undefined), contender(all), contender({ shift: 2, flip: true })], { rounds, minMs: 300 });
const ms = (t) => (median(t) * 1000).toFixed(2);
const cost = (t) => `${((median(t.map((x, r) => x / off[r])) - 1) * 100).toFixed(1)}%`;
console.log(`augmentation's cost, ${modelName}, batch ${batch}, ${rounds} interleaved rounds (medians of per-round ratios)`);
console.log(`  no augmentation                 ${ms(off)} ms a step`);
console.log(`  shift, flip, rotate, scale, brightness, contrast   ${ms(full)} ms a step   +${cost(full)}`);
console.log(`  shift and flip (whole-pixel moves)                ${ms(moves)} ms a step   +${cost(moves)}`);
