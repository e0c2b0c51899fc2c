/**
 * The relaxed build (fused multiply-add through relaxed SIMD): trains to the
 * same bits on any worker count, to other bits than the SIMD build (one
 * rounding instead of two); the model file
 * says which build trained it. (Its kernels are checked against float64
 * references with the other builds in gemm, conv and kernels tests; Node 22
 * and Chromium giving the same bits is checked by the e2e test.)
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { readModelHeader } from '../ts/io/modelfile.js';
import { serializeModel } from '../ts/model-file.js';
import { createPreset } from '../ts/models/presets.js';
import { optimizerFromConfig } from '../ts/optim/optimizer.js';
import { mnistSample } from './data.js';

const train = mnistSample('train', 3072), test = mnistSample('t10k', 500);

async function trained(backend: 'relaxed' | 'simd', workers: number) {
  const { model, recipe } = createPreset('lenet5-bn', { backend: await initBackend({ backend }), seed: 3 });
  await model.fit(train, { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 2, batchSize: 128, seed: 3, workers });
  const bytes = serializeModel(model), accuracy = model.evaluate(test).accuracy;
  model.dispose();
  return { bytes, accuracy };
}

describe('the relaxed build', () => {
  it('trains to the same bytes on 1, 2 and 3 workers, to other bytes than the SIMD build, and both learn', async () => {
    const one = await trained('relaxed', 1);
    for (const workers of [2, 3]) expect(Buffer.from((await trained('relaxed', workers)).bytes).equals(Buffer.from(one.bytes)), `${workers} workers`).toBe(true);
    const simd = await trained('simd', 1);
    expect(Buffer.from(simd.bytes).equals(Buffer.from(one.bytes))).toBe(false);
    // 48 steps: both learn (the accuracy checks of .ci/run compare whole runs on many seeds; this early, other
    // rounding moves a run as much as another seed does)
    expect(Math.min(one.accuracy, simd.accuracy)).toBeGreaterThan(0.85);
  });

  it('the model file records which build the model ran on', async () => {
    for (const backend of ['relaxed', 'simd', 'scalar'] as const) {
      const { model } = createPreset('dense-head', { backend: await initBackend({ backend }), seed: 1 });
      expect(readModelHeader(serializeModel(model)).header.backend).toBe(backend);
      model.dispose();
    }
  });
});
