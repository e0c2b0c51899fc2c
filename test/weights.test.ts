/**
 * getWeights / setWeights: copies out, checked writes in, and the documented
 * layouts, shown by moving a PyTorch network's weights (test/fixtures, written
 * by scripts/make-torch-weights-fixture.py) into the same cnn-wasm network.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { batchNormalization, conv2d, dense, flatten, maxPooling2d, relu } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';
import { allBackends } from './helpers.js';
import { mnistSample } from './data.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-weights.json', import.meta.url), 'utf8')) as {
  probabilities: number[]; state: Record<string, { shape: number[]; values: number[] }>;
};
const backends = await allBackends();
const make = (be: (typeof backends)[number]) => sequential([
  conv2d({ filters: 6, kernelSize: 5 }), batchNormalization(), relu(), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 10 }),
], { inputShape: [1, 28, 28], backend: be, seed: 1 });

describe.each(backends.map((b) => [b.name, b] as const))('%s build', (_n, be) => {
  it("a PyTorch network's weights, moved in with setWeights, give PyTorch's probabilities (<= 1e-5)", () => {
    const m = make(be);
    const st = fixture.state;
    // nn.Linear.weight is [out, in]; our dense kernel is [in, out]: transpose.
    const [out, inn] = st['5.weight'].shape;
    const linear = new Float32Array(inn * out);
    for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) linear[i * out + o] = st['5.weight'].values[o * inn + i];
    m.setWeights([
      { name: 'conv2d_1/kernel', shape: st['0.weight'].shape, values: st['0.weight'].values }, // [F, C, KH, KW] as PyTorch
      { name: 'conv2d_1/bias', values: st['0.bias'].values },
      { name: 'batchNormalization_1/gamma', values: st['1.weight'].values },
      { name: 'batchNormalization_1/beta', values: st['1.bias'].values },
      { name: 'batchNormalization_1/runningMean', values: st['1.running_mean'].values },
      { name: 'batchNormalization_1/runningVar', values: st['1.running_var'].values },
      { name: 'dense_1/kernel', shape: [inn, out], values: linear },
      { name: 'dense_1/bias', values: st['5.bias'].values },
    ]);
    const probs = m.predict(mnistSample('t10k', 8).images);
    let worst = 0;
    probs.forEach((p, i) => (worst = Math.max(worst, Math.abs(p - fixture.probabilities[i]))));
    expect(worst).toBeLessThanOrEqual(1e-5);
    m.dispose();
  });

  it('getWeights copies; setWeights checks names, shapes, lengths and finiteness before writing anything', () => {
    const m = make(be);
    const w = m.getWeights();
    expect(w.map((t) => [t.name, t.shape])).toEqual(m.params().map((p) => [p.name, p.shape]));
    w[0].values[0] = 1234; // a copy
    expect(m.params()[0].value.view[0]).not.toBe(1234);
    const before = m.getWeights();
    expect(() => m.setWeights({ 'conv2d_9/kernel': [1] })).toThrow(/setWeights: no tensor named "conv2d_9\/kernel" \(the model's: conv2d_1\/kernel, conv2d_1\/bias, /);
    expect(() => m.setWeights([{ name: 'dense_1/kernel', shape: [10, 864], values: new Float32Array(8640) }])).toThrow(/dense_1\/kernel has shape \(864, 10\), got \(10, 864\)/);
    expect(() => m.setWeights({ 'conv2d_1/bias': [1, 2] })).toThrow(/conv2d_1\/bias \(6\) takes 6 values, got 2/);
    expect(() => m.setWeights({ 'conv2d_1/bias': [0, 0, 0, 0, 0, 0], 'dense_1/bias': [0, 0, NaN, 0, 0, 0, 0, 0, 0, 0] })).toThrow(/dense_1\/bias value NaN at index 2 is not finite/);
    expect(m.getWeights()).toEqual(before); // the bias of the good entry was not written either
    const p0 = m.predict(mnistSample('t10k', 4).images);
    m.setWeights({ 'dense_1/bias': [5, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    expect(m.predict(mnistSample('t10k', 4).images)).not.toEqual(p0); // used at once (batch norm folded again)
    m.dispose();
  });
});
