/** Inference with batch norm folded into the layer before it agrees with the unfolded pass; training is unchanged. */
import { describe, expect, it } from 'vitest';
import { batchNormalization, conv2d, dense, flatten, maxPooling2d, relu } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';
import { createPreset } from '../ts/models/presets.js';
import { optimizerFromConfig, sgd } from '../ts/optim/optimizer.js';
import { allBackends } from './helpers.js';
import { mnistSample } from './data.js';

const backends = await allBackends();
const test = mnistSample('t10k', 1000);

function compare(a: Float32Array, b: Float32Array): { maxAbs: number; sameClass: boolean } {
  let maxAbs = 0, same = true;
  for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
  for (let r = 0; r < a.length / 10; r++) {
    const arg = (p: Float32Array) => { let best = 0; for (let j = 1; j < 10; j++) if (p[r * 10 + j] > p[r * 10 + best]) best = j; return best; };
    if (arg(a) !== arg(b)) same = false;
  }
  return { maxAbs, sameClass: same };
}

describe.each(backends.map((b) => [b.name, b] as const))('%s build', (name, be) => {
  it('lenet5-bn (conv + batch norm + relu, three times): within 1e-5 of the unfolded probabilities, the same class for all 1,000 digits', async () => {
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    await model.fit(mnistSample('train', 2000), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128 });
    const folded = model.predict(test.images);
    model.foldBatchNorm = false;
    const plain = model.predict(test.images);
    const r = compare(folded, plain);
    console.log(`fold ${name} lenet5-bn: max |p_folded - p| = ${r.maxAbs.toExponential(2)} over 1,000 digits`);
    expect(r.maxAbs).toBeLessThanOrEqual(1e-5);
    expect(r.sameClass).toBe(true);
    expect(r.maxAbs).toBeGreaterThan(0); // really the folded pass
    model.dispose();
  }, 30_000);

  it('predict makes one pass per conv/dense layer: batch norm folded, relu in the kernel, conv1\'s pooling from its rows; a relu layer after a plain conv fuses too, same bits', async () => {
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    expect(model.net.inferencePasses()).toEqual([
      'zeroPadding2d', 'conv2d+batchNormalization+relu+maxPooling2d', 'conv2d+batchNormalization+relu', 'maxPooling2d',
      'conv2d+batchNormalization+relu', 'flatten', 'dense', 'dropout', 'dense', // flatten, dropout: no work at inference
    ]);
    model.dispose();
    // conv (linear) + relu layer: fused with the layer's own weights, the very bits of the two-pass forward.
    const m2 = sequential([conv2d({ filters: 6, kernelSize: 5 }), relu(), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 20 }), relu(), dense({ units: 10 })],
      { inputShape: [1, 28, 28], backend: be, seed: 3 });
    await m2.fit(mnistSample('train', 512), { optimizer: sgd({ learningRate: 0.05 }), batchSize: 64 });
    expect(m2.net.inferencePasses()).toEqual(['conv2d+relu+maxPooling2d', 'flatten', 'dense+relu', 'dense']);
    const fused = m2.predict(test.images);
    m2.foldBatchNorm = false;
    expect(Array.from(m2.predict(test.images))).toEqual(Array.from(fused));
    m2.dispose();
  }, 30_000);

  it('after a fused predict, fused layers have no output of their own; predict(.., { layerOutputs: true }) runs each layer', async () => {
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 2 });
    await model.fit(mnistSample('train', 512), { optimizer: sgd({ learningRate: 0.05 }), batchSize: 64 });
    const x = test.images.subarray(0, 5 * 784);
    const fused = model.predict(x);
    // conv1 + bn + relu + pool and conv2 + bn + relu are fused; the second pool runs on its own.
    const out = () => model.layers.map((l) => l.lastOutput() !== null);
    const kinds = model.layers.map((l) => l.kind);
    expect(out().filter((o, i) => o && kinds[i] !== 'dense' && kinds[i] !== 'zeroPadding2d' && kinds[i] !== 'maxPooling2d')).toEqual([]);
    expect(model.layers[kinds.indexOf('maxPooling2d', kinds.indexOf('maxPooling2d') + 1)].lastOutput()).not.toBeNull();
    const each = model.predict(x, { layerOutputs: true });
    expect(out().every((o, i) => o || kinds[i] === 'flatten' || kinds[i] === 'dropout')).toBe(true);
    expect(compare(each, fused).maxAbs).toBeLessThanOrEqual(1e-5);
    // conv1's own output is the convolution itself: its first value against a direct sum.
    const conv1 = model.layers[1], pad = model.layers[0].lastOutput()!.view, w = conv1.params()[0].value.view, b = conv1.params()[1].value.view;
    let ref = b[0];
    for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) ref += pad[ky * 32 + kx] * w[ky * 5 + kx];
    expect(conv1.lastOutput()!.view[0]).toBeCloseTo(ref, 5);
    expect(model.activationStats().map((r) => r.kind)).toContain('batchNormalization');
    expect(() => model.predict(x, { layerOutputs: 'yes' as unknown as boolean })).toThrow(/predict: layerOutputs must be true or false, got "yes"/);
    model.dispose();
  }, 30_000);

  it('dense + batch norm (NC) folds by columns; weights changed by training are folded again', async () => {
    const model = sequential([flatten(), dense({ units: 32 }), batchNormalization(), relu(), dense({ units: 10 })], { inputShape: [1, 28, 28], backend: be, seed: 4 });
    const opt = sgd({ learningRate: 0.05, momentum: 0.9 });
    await model.fit(mnistSample('train', 512), { optimizer: opt, batchSize: 64 });
    const before = model.predict(test.images);
    await model.fit(mnistSample('train', 512), { optimizer: opt, batchSize: 64 });
    const after = model.predict(test.images);
    expect(compare(after, before).maxAbs).toBeGreaterThan(1e-3); // the new weights are used
    model.foldBatchNorm = false;
    const r = compare(after, model.predict(test.images));
    expect(r.maxAbs).toBeLessThanOrEqual(1e-5);
    expect(r.sameClass).toBe(true);
    model.dispose();
  }, 30_000);
});
