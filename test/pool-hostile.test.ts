/**
 * Inference pools under concurrent and careless callers: concurrent calls
 * each get their own answers, and bad options are refused by name before a
 * thread starts.
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { createPreset } from '../ts/models/presets.js';
import { createInferencePool } from '../ts/parallel/infer.js';
import { sgd } from '../ts/optim/optimizer.js';
import { mnistSample } from './data.js';
import { BACKENDS } from './helpers.js';

describe.each(BACKENDS)('%s build: concurrent calls on one pool', (name) => {
  it('50 concurrent predict calls of different inputs and sizes (and evaluates among them) each get their own bits', async () => {
    const be = await initBackend({ backend: name });
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 4 });
    const test = mnistSample('t10k', 600);
    const pool = await createInferencePool(model, { workers: 2, batchSize: 50, capacity: 100 });
    try {
      // Call i predicts digits [7i, 7i + 1 + i % 13): overlapping inputs of different sizes, some spanning several rounds.
      const calls = Array.from({ length: 50 }, (_, i) => {
        const from = 7 * i, n = 1 + (i % 13) * 9;
        return { from, n, images: test.images.slice(from * 784, (from + n) * 784) };
      });
      const evalData = { images: test.images.subarray(0, 300 * 784), labels: (test.labels as Uint8Array).subarray(0, 300), count: 300 };
      const pending = calls.map((c) => pool.predict(c.images));
      const evals = [pool.evaluate(evalData), pool.evaluate(evalData)];
      calls.forEach((c) => c.images.fill(0)); // the caller reuses its arrays at once: queued calls hold their own copies
      const results = await Promise.all(pending);
      results.forEach((r, i) => {
        const want = model.predict(test.images.subarray(calls[i].from * 784, (calls[i].from + calls[i].n) * 784), { batchSize: 50 });
        expect(Buffer.from(r.buffer).equals(Buffer.from(want.buffer)), `call ${i}`).toBe(true);
      });
      const ev = model.evaluate(evalData, { batchSize: 50 });
      expect(await Promise.all(evals)).toEqual([ev, ev]);
      // A call that fails does not stop the ones queued after it.
      const bad = pool.predict(new Uint8Array(100)), good = pool.predict(test.images.subarray(0, 784));
      await expect(bad).rejects.toThrow(/100 values is not a whole number of examples/);
      expect(Array.from(await good)).toEqual(Array.from(model.predict(test.images.subarray(0, 784))));
    } finally {
      await pool.dispose();
      model.dispose();
    }
  }, 60_000);

  it('weights changed by training between queued calls reach the workers', async () => {
    const be = await initBackend({ backend: name });
    const { model } = createPreset('dense-head', { backend: be, seed: 5 });
    const test = mnistSample('t10k', 64);
    const pool = await createInferencePool(model, { workers: 2, batchSize: 32 });
    try {
      const before = model.predict(test.images);
      expect(Array.from(await pool.predict(test.images))).toEqual(Array.from(before));
      await model.fit(mnistSample('train', 128), { optimizer: sgd({ learningRate: 0.05 }), batchSize: 64 });
      const after = model.predict(test.images);
      expect(Array.from(after)).not.toEqual(Array.from(before));
      expect(Array.from(await pool.predict(test.images))).toEqual(Array.from(after));
    } finally {
      await pool.dispose();
      model.dispose();
    }
  }, 60_000);
});

describe('pool options', () => {
  it.each([
    [{ capacity: 0 }, /inference pool: capacity must be a positive integer, got 0/],
    [{ capacity: -5 }, /capacity must be a positive integer, got -5/],
    [{ capacity: 1.5 }, /capacity must be a positive integer, got 1.5/],
    [{ capacity: Number.NaN }, /capacity must be a positive integer, got null/],
    [{ batchSize: 0 }, /batchSize must be a positive integer, got 0/],
    [{ workers: 0 }, /inference pool: workers must be an integer from 1 to 256, got 0/],
    [{ workers: 1e6 }, /inference pool: workers must be an integer from 1 to 256, got 1000000/],
    [{ workers: 2.5 }, /workers must be an integer from 1 to 256, got 2.5/],
    [{ capacity: 1e9 }, /needs more than 2 GiB of shared memory/],
  ])('%o is refused by name before a thread starts', async (o, msg) => {
    const { model } = createPreset('dense-head', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
    await expect(createInferencePool(model, o)).rejects.toThrow(msg);
    model.dispose();
  });

  it('as fit, the pool starts no more workers than a round has chunks', async () => {
    const { model } = createPreset('dense-head', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
    const pool = await createInferencePool(model, { workers: 200, batchSize: 64, capacity: 128 });
    expect(pool.size).toBe(2);
    expect(pool.liveWorkers).toBe(2);
    const test = mnistSample('t10k', 300);
    expect(Array.from(await pool.predict(test.images))).toEqual(Array.from(model.predict(test.images, { batchSize: 64 })));
    await pool.dispose();
    model.dispose();
  });

  it('fit refuses more workers than the bound too', async () => {
    const { model } = createPreset('dense-head', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
    await expect(model.fit(mnistSample('train', 64), { optimizer: sgd({ learningRate: 0.1 }), workers: 1e6 })).rejects.toThrow(/fit: workers must be an integer from 1 to 256, got 1000000/);
    model.dispose();
  });
});
