/**
 * ONNX export, checked by a real runtime: every preset's exported graph runs in
 * onnxruntime-web's wasm backend (in Node) and gives model.predict's
 * probabilities on 1,000 test digits to 1e-5, the same class for all.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../ts/model-file-node.js';
import { createPreset, PRESET_NAMES } from '../ts/models/presets.js';
import { optimizerFromConfig } from '../ts/optim/optimizer.js';
import { allBackends } from './helpers.js';
import { mnistSample } from './data.js';

ort.env.wasm.numThreads = 1;
const backends = await allBackends();
const test = mnistSample('t10k', 1000) as { images: Uint8Array; labels: Uint8Array; count: number };

async function runOnnx(bytes: Uint8Array, images: Uint8Array, n: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(images), [n, 1, 28, 28]) });
  await session.release();
  return out.probabilities.data as Float32Array;
}

describe.each(backends.map((b) => [b.name, b] as const))('%s build: exported ONNX in onnxruntime-web', (name, be) => {
  it.each(PRESET_NAMES)('%s: the same probabilities as model.predict (<= 1e-5), the same class for all 1,000 digits', async (preset) => {
    const { model, recipe } = createPreset(preset, { backend: be, seed: 2 });
    await model.fit(mnistSample('train', 384), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128 }); // batch-norm statistics off 0/1
    const ours = model.predict(test.images);
    const theirs = await runOnnx(model.toOnnx(), test.images, 1000);
    let worst = 0, sameClass = true;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    for (let r = 0; r < 1000; r++) {
      const arg = (p: Float32Array) => { let b = 0; for (let j = 1; j < 10; j++) if (p[r * 10 + j] > p[r * 10 + b]) b = j; return b; };
      if (arg(ours) !== arg(theirs)) sameClass = false;
    }
    console.log(`onnx ${name} ${preset}: max |onnxruntime - predict| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(sameClass).toBe(true);
    model.dispose();
  }, 60_000);
});

describe('export of strides, explicit and same padding, average pooling, dense batch norm', () => {
  it.each(backends.map((b) => [b.name, b] as const))('%s: onnxruntime agrees to 1e-5', async (_n, be) => {
    const { sequential } = await import('../ts/model.js');
    const L = await import('../ts/layers/index.js');
    const model = sequential([
      L.zeroPadding2d({ padding: [[1, 0], [0, 2]], value: 0.5 }),
      L.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 1, activation: 'relu' }),
      L.conv2d({ filters: 6, kernelSize: [3, 2], strides: [2, 1], padding: 'same' }), // asymmetric: more padding at the far side
      L.averagePooling2d({ poolSize: 2 }), L.flatten(),
      L.dense({ units: 20 }), L.batchNormalization(), L.relu(), L.dropout({ rate: 0.3 }), L.dense({ units: 10 }),
    ], { inputShape: [1, 28, 28], backend: be, seed: 9 });
    const { sgd } = await import('../ts/optim/optimizer.js');
    await model.fit(mnistSample('train', 256), { optimizer: sgd({ learningRate: 0.05, momentum: 0.9 }), batchSize: 64 });
    const ours = model.predict(test.images.subarray(0, 784 * 200));
    const theirs = await runOnnx(model.toOnnx(), test.images.subarray(0, 784 * 200), 200);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    expect(worst).toBeLessThanOrEqual(1e-5);
    model.dispose();
  }, 30_000);
});

describe('cnn-wasm export', () => {
  it('writes the ONNX file a runtime runs, and refuses a bad --format or --out', async () => {
    const be = backends[0];
    const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-onnx-'));
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    saveModel(model, join(dir, 'm.cnnw'));
    const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'export', join(dir, 'm.cnnw'), '--format', 'onnx', '--out', join(dir, 'm.onnx')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*m\.onnx \([\d,]+ bytes, ONNX opset 13\)/);
    const probs = await runOnnx(new Uint8Array(readFileSync(join(dir, 'm.onnx'))), test.images.subarray(0, 784 * 5), 5);
    const ours = model.predict(test.images.subarray(0, 784 * 5));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(probs[i] - ours[i])).toBeLessThanOrEqual(1e-5);
    expect(spawnSync(process.execPath, [bin, 'export', join(dir, 'm.cnnw'), '--format', 'tflite'], { encoding: 'utf8' })).toMatchObject({ status: 2, stderr: expect.stringMatching(/invalid value 'tflite' for --format \(valid: onnx\)/) });
    expect(spawnSync(process.execPath, [bin, 'export', join(dir, 'm.cnnw'), '--out', join(dir, 'nope', 'x.onnx')], { encoding: 'utf8' })).toMatchObject({ status: 1, stderr: expect.stringMatching(/directory .*nope does not exist/) });
    model.dispose();
  }, 30_000);
});
