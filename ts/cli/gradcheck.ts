/** `cnn-wasm gradcheck`: backprop vs central differences for every parameter tensor of a preset. */
import type { Command } from 'commander';
import { initBackend } from '../backend/load.js';
import { gradientCheck } from '../gradcheck.js';
import { createPreset, PRESET_NAMES } from '../models/presets.js';
import { asDataset, cliDataset, makeOut } from './common.js';
import { parseBackend, parseChoice, parseIntFlag } from './options.js';

export function register(program: Command): void {
  program
    .command('gradcheck')
    .description('compare backprop with central differences for every parameter tensor of a preset')
    .option('--model <name>', `preset: ${PRESET_NAMES.join(' | ')}`, 'lenet5-bn')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .option('--batch <n>', 'examples in the checked batch (bundled MNIST sample)', '16')
    .option('--seed <n>', 'initialisation seed', '1')
    .action(async (f: { model: string; backend: string; batch: string; seed: string }) => {
      const name = parseChoice('--model', f.model, PRESET_NAMES);
      const be = await initBackend({ backend: parseBackend(f.backend) });
      const n = parseIntFlag('--batch', f.batch, 1, 1000);
      const { model } = createPreset(name, { backend: be, seed: parseIntFlag('--seed', f.seed, 0, 2 ** 31) });
      const data = await cliDataset('mnist-sample', makeOut(false));
      const r = gradientCheck(model, asDataset(data.train, 0, n));
      console.log(`gradient check of ${name} (${be.name} backend, batch ${n}): relative error = |backprop - numeric| / (|backprop| + |numeric|)`);
      const absTol = 1e-3, tol = 0.1; // gradientCheck's default tolerances
      for (const t of r.tensors) {
        // A relative error near 1 with tiny values means both gradients are ~0 (e.g. a bias under batch norm):
        // the relative error compares rounding noise, so the absolute difference decides.
        const why = t.ok && t.relativeError > tol ? `  ok: both gradients are ~0 (max abs difference ${t.maxAbsError.toExponential(1)} <= ${absTol}), the relative error compares rounding noise` : t.ok ? '  ok' : '  FAILED';
        console.log(`  ${t.name.padEnd(34)} ${t.relativeError.toExponential(2).padStart(9)}  max abs ${t.maxAbsError.toExponential(2)}${why}`);
      }
      for (const d of r.deadReluLayers) console.log(`  warning: ${d.layer} outputs are ${(d.zeroFraction * 100).toFixed(1)}% zero (dead ReLU)`);
      console.log(r.ok ? 'all tensors agree' : 'some tensors disagree');
      model.dispose();
      if (!r.ok) process.exitCode = 1;
    });
}
