/** `cnn-wasm eval`, `predict`, `gradcheck`, `summary`: commands around a model file or preset. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { initBackend } from '../backend/load.js';
import { gradientCheck } from '../gradcheck.js';
import { decodeImage, toMnist } from '../image/decode.js';
import { ModelFileError } from '../io/modelfile.js';
import { loadModel } from '../io/node.js';
import { createPreset, PRESET_NAMES, presetDescription } from '../models/presets.js';
import type { Sequential } from '../model.js';
import { asDataset, checkImageSize, cliDataset, FileProblem, makeOut } from './common.js';
import { parseBackend, parseChoice, parseIntFlag } from './options.js';

async function openModel(path: string, backend: string): Promise<{ model: Sequential; metadata: Record<string, unknown> }> {
  const be = await initBackend({ backend: parseBackend(backend) });
  try {
    const { model, optimizer, metadata } = loadModel(path, { backend: be });
    optimizer?.dispose();
    return { model, metadata };
  } catch (e) {
    if (e instanceof ModelFileError) throw new FileProblem(e.message);
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('eval <model>')
    .description('loss and accuracy of a saved model on a data set\'s test split')
    .option('--dataset <name|dir>', 'mnist | mnist-sample | fashion-mnist | a directory (default: the one it was trained on)')
    .option('--backend <name>', 'auto | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (path: string, f: { dataset?: string; backend: string; json?: boolean }) => {
      const out = makeOut(!!f.json);
      const { model, metadata } = await openModel(path, f.backend);
      const spec = f.dataset ?? (typeof metadata.dataset === 'string' ? metadata.dataset : 'mnist');
      const data = await cliDataset(spec, out);
      checkImageSize(data);
      const r = model.evaluate(asDataset(data.test));
      if (out.json) console.log(JSON.stringify({ model: path, dataset: data.name, testImages: data.test.count, testAccuracy: r.accuracy, testLoss: r.loss }));
      else console.log(`${path} on ${data.name} test (${data.test.count.toLocaleString('en-US')} images): accuracy ${(r.accuracy * 100).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
      model.dispose();
    });

  program
    .command('predict <model> <image>')
    .description('classify a PNG or PGM digit image (MNIST-style centring and resizing to 28x28)')
    .option('--top <k>', 'how many classes to list', '3')
    .option('--backend <name>', 'auto | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (path: string, image: string, f: { top: string; backend: string; json?: boolean }) => {
      const top = parseIntFlag('--top', f.top, 1, 10);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(image);
      } catch (e) {
        throw new FileProblem(`${image}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      let pixels: Uint8Array;
      try {
        pixels = toMnist(decodeImage(bytes, image));
      } catch (e) {
        throw new FileProblem(`${image}: ${(e as Error).message.replace(`${image}: `, '')}`);
      }
      const { model } = await openModel(path, f.backend);
      if (model.inputSize !== 784) throw new FileProblem(`${path}: the model takes ${model.inputShape.join('x')} inputs, not 28x28 images`);
      const probs = Array.from(model.predict(pixels));
      const ranked = probs.map((p, c) => ({ class: c, probability: p })).sort((a, b) => b.probability - a.probability).slice(0, top);
      if (f.json) console.log(JSON.stringify({ image, predictions: ranked }));
      else for (const r of ranked) console.log(`${r.class}  ${(r.probability * 100).toFixed(2).padStart(6)}%`);
      model.dispose();
    });

  program
    .command('gradcheck')
    .description('compare backprop with central differences for every parameter tensor of a preset')
    .option('--model <name>', `preset: ${PRESET_NAMES.join(' | ')}`, 'lenet5-bn')
    .option('--backend <name>', 'auto | simd | scalar', 'auto')
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
      for (const t of r.tensors) console.log(`  ${t.name.padEnd(34)} ${t.relativeError.toExponential(2).padStart(9)}  max abs ${t.maxAbsError.toExponential(2)}  ${t.ok ? 'ok' : 'FAILED'}`);
      for (const d of r.deadReluLayers) console.log(`  warning: ${d.layer} outputs are ${(d.zeroFraction * 100).toFixed(1)}% zero (dead ReLU)`);
      console.log(r.ok ? 'all tensors agree' : 'some tensors disagree');
      model.dispose();
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('summary')
    .description('print the layers, output shapes and parameter counts of a preset or a saved model')
    .option('--model <name|file>', `preset (${PRESET_NAMES.join(' | ')}) or a .cnnw file`, 'lenet5-bn')
    .action(async (f: { model: string }) => {
      if (PRESET_NAMES.includes(f.model)) {
        await initBackend();
        const { model, recipe } = createPreset(f.model);
        console.log(`${f.model}: ${presetDescription(f.model)}`);
        console.log(model.summary());
        console.log(`recipe: ${JSON.stringify(recipe.optimizer)}, batch ${recipe.batchSize}, ${recipe.epochs} epochs`);
        model.dispose();
      } else if (f.model.endsWith('.cnnw') || f.model.includes('/')) {
        const { model, metadata } = await openModel(f.model, 'auto');
        console.log(model.summary());
        if (Object.keys(metadata).length) console.log(`metadata: ${JSON.stringify(metadata)}`);
        model.dispose();
      } else {
        parseChoice('--model', f.model, PRESET_NAMES);
      }
    });
}
