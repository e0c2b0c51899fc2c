/** The presets are the seed notebooks' architectures and recipes (../shared/seeds/). */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { createPreset, presetRecipe } from '../ts/models/presets.js';
import { sgd } from '../ts/optim/optimizer.js';
import { flatten, dense } from '../ts/layers/index.js';
import { constant } from '../ts/init.js';
import { sequential } from '../ts/model.js';
import { mnistSample } from './data.js';

await initBackend({ backend: 'simd' });

const meanStd = (v: Float32Array) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)];
};

describe('deep4 is seed 000', () => {
  it('conv5x5(1->4, same), conv5x5(4->4, same), pool, conv3x3(4->8, same), conv3x3(8->16, same), pool, fc 784->128-relu, 128->10', () => {
    const { model } = createPreset('deep4');
    expect(model.layers.map((l) => [l.kind, l.outputShape])).toEqual([
      ['conv2d', [4, 28, 28]], ['conv2d', [4, 28, 28]], ['maxPooling2d', [4, 14, 14]],
      ['conv2d', [8, 14, 14]], ['conv2d', [16, 14, 14]], ['maxPooling2d', [16, 7, 7]],
      ['flatten', [784]], ['dense', [128]], ['dense', [10]],
    ]);
    expect(model.params().map((p) => [p.name, p.shape])).toEqual([
      ['conv2d_1/kernel', [4, 1, 5, 5]], ['conv2d_1/bias', [4]], ['conv2d_2/kernel', [4, 4, 5, 5]], ['conv2d_2/bias', [4]],
      ['conv2d_3/kernel', [8, 4, 3, 3]], ['conv2d_3/bias', [8]], ['conv2d_4/kernel', [16, 8, 3, 3]], ['conv2d_4/bias', [16]],
      ['dense_1/kernel', [784, 128]], ['dense_1/bias', [128]], ['dense_2/kernel', [128, 10]], ['dense_2/bias', [10]],
    ]);
  });

  it("has the seed's init, input scaling and recipe", () => {
    const { model, recipe } = createPreset('deep4', { seed: 5 });
    const p = Object.fromEntries(model.params().map((t) => [t.name, t.value.view]));
    const [, convStd] = meanStd(p['conv2d_4/kernel']);
    const [, denseStd] = meanStd(p['dense_1/kernel']);
    expect(convStd).toBeGreaterThan(0.45);
    expect(convStd).toBeLessThan(0.55);
    expect(denseStd).toBeGreaterThan(0.095);
    expect(denseStd).toBeLessThan(0.105);
    expect(new Set(p['conv2d_1/bias'])).toEqual(new Set([Math.fround(0.15)]));
    expect(new Set(p['dense_2/bias'])).toEqual(new Set([Math.fround(1.15)]));
    expect(model.normalization).toEqual({ scale: 1 / 255, mean: 0, std: 1 });
    expect(recipe).toMatchObject({ batchSize: 128, epochs: 1, optimizer: { kind: 'sgd', learningRate: 0.001, momentum: 0.9, weightDecay: 2 / 128, weightDecayOn: 'kernels' } });
    expect(presetRecipe('lenet5-bn')).toMatchObject({ batchSize: 128, optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 4e-4 } });
  });
});

describe("weight decay on kernels only (seed 000's L2 on the weights)", () => {
  it('decays kernels like PyTorch and leaves biases to their gradient alone', async () => {
    const make = () => sequential([flatten(), dense({ units: 10, biasInitializer: constant(1) })], { inputShape: [1, 28, 28], seed: 2 });
    const data = mnistSample('train', 16);
    const [all, kernels, none] = [make(), make(), make()];
    const run = (m: ReturnType<typeof make>, o: Parameters<typeof sgd>[0]) => m.fit(data, { optimizer: sgd(o), batchSize: 16, maxSteps: 1, shuffle: false });
    await run(all, { learningRate: 0.1, weightDecay: 0.5 });
    await run(kernels, { learningRate: 0.1, weightDecay: 0.5, weightDecayOn: 'kernels' });
    await run(none, { learningRate: 0.1 });
    const get = (m: ReturnType<typeof make>, n: string) => Array.from(m.params().find((p) => p.name === n)!.value.view);
    expect(get(kernels, 'dense_1/kernel')).toEqual(get(all, 'dense_1/kernel'));
    expect(get(kernels, 'dense_1/bias')).toEqual(get(none, 'dense_1/bias'));
    expect(get(kernels, 'dense_1/bias')).not.toEqual(get(all, 'dense_1/bias')); // decaying biases would have moved them
    expect(() => sgd({ weightDecayOn: 'biases' as never })).toThrow(/weightDecayOn must be 'all' or 'kernels'/);
  });
});
