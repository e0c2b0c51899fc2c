/**
 * Data-parallel training: the same bits for any worker count (the gradient
 * leaves, batch-norm sums and dropout masks are fixed by the batch alone), and
 * a worker that dies fails the step with its name and leaves no worker behind.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { serializeModel } from '../ts/model-file.js';
import { createPreset } from '../ts/models/presets.js';
import { optimizerFromConfig } from '../ts/optim/optimizer.js';
import type { TrainingPool } from '../ts/parallel/pool.js';
import type { Sequential } from '../ts/model.js';
import { activePool } from '../ts/train/fit.js';
import { blocksBy, chunksBy, forceSplit, injectFault, killWorker, setStallMs } from './support/pool-hooks.js';
import { mnistSample } from './data.js';

const poolOf = (m: Sequential): TrainingPool | null => activePool(m);

async function train(backend: 'simd' | 'scalar', preset: string, workers: number, count = 200, batchSize = 64) {
  const be = await initBackend({ backend });
  const { model, recipe } = createPreset(preset, { backend: be, seed: 3 });
  const optimizer = optimizerFromConfig(recipe.optimizer);
  const losses: number[] = [];
  let pool: TrainingPool | null = null;
  // 200 images in batches of 64: leaves of 16, and a last batch of 8 (one leaf: fewer busy workers than workers).
  await model.fit(mnistSample('train', count), {
    optimizer, batchSize, epochs: 2, seed: 5, workers,
    callbacks: { onBatchEnd: (b) => { losses.push(b.loss); pool ??= poolOf(model); } },
  });
  const bytes = serializeModel(model, { optimizer });
  model.dispose();
  return { bytes, losses, pool: pool as TrainingPool | null };
}

describe.each(['simd', 'scalar'] as const)('%s build: workers 1, 2 and 3 train to the same bits', (backend) => {
  it.each(['lenet5-bn', 'dense-head'])('%s: byte-identical model files and identical per-step losses', async (preset) => {
    const one = await train(backend, preset, 1);
    expect(one.pool).toBeNull(); // one worker is this thread
    for (const workers of [2, 3]) {
      const r = await train(backend, preset, workers);
      expect(r.pool!.size).toBe(workers);
      expect(r.losses).toEqual(one.losses);
      expect(Buffer.from(r.bytes).equals(Buffer.from(one.bytes)), `${workers} workers`).toBe(true);
      expect(r.pool!.liveWorkers).toBe(0); // fit ended them
    }
  }, 60_000);
});

describe('4 workers', () => {
  it('deep4 (no batch norm) with 4 workers matches 1', async () => {
    const one = await train('simd', 'deep4', 1, 256, 128);
    const four = await train('simd', 'deep4', 4, 256, 128);
    expect(four.losses).toEqual(one.losses);
    expect(Buffer.from(four.bytes).equals(Buffer.from(one.bytes))).toBe(true);
  }, 60_000);
});

describe('a worker that dies', () => {
  it('fails the step naming the worker and the cause, and no worker is left running', async () => {
    const be = await initBackend({ backend: 'simd' });
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    let pool: TrainingPool | null = null;
    const err = await model.fit(mnistSample('train', 2000), {
      optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128, epochs: 1, workers: 2,
      callbacks: {
        onBatchEnd: async (b) => {
          pool ??= poolOf(model);
          if (b.batch === 2) await killWorker(pool!, 1); // as if the thread crashed
        },
      },
    }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/^fit: worker 1 of 2 exited \(code 1\)$/);
    expect(pool!.liveWorkers).toBe(0);
    // The model is still usable in this thread.
    expect(model.evaluate(mnistSample('t10k', 100)).accuracy).toBeGreaterThan(0);
    model.dispose();
  }, 60_000);
});

describe('inference on workers', () => {
  it('predict and evaluate give the same bits as the model itself, for 1, 2 and 3 workers', async () => {
    const { createInferencePool, INFER_CHUNK } = await import('../ts/parallel/infer.js');
    const be = await initBackend({ backend: 'simd' });
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 2 });
    await model.fit(mnistSample('train', 256), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 64 });
    const test = mnistSample('t10k', 1000);
    const probs = model.predict(test.images, { batchSize: 100 });
    const ev = model.evaluate(test, { batchSize: 100 });
    for (const workers of [1, 2, 3]) {
      // capacity 300: the 1,000 digits go in four rounds, the last one short.
      const pool = await createInferencePool(model, { workers, batchSize: 100, capacity: 300 });
      expect(Buffer.from((await pool.predict(test.images)).buffer).equals(Buffer.from(probs.buffer)), `${workers} workers`).toBe(true);
      expect(await pool.evaluate(test)).toEqual(ev);
      const f32 = Float32Array.from(test.images.subarray(0, 784 * 7), (p) => p / 255);
      expect(Array.from(await pool.predict(f32))).toEqual(Array.from(model.predict(f32, { batchSize: 100 })));
      await pool.dispose();
      expect(pool.liveWorkers).toBe(0);
    }
    // A batch larger than a worker's chunk: the workers share it chunk by chunk, and evaluate averages over the whole batch.
    const pool = await createInferencePool(model, { workers: 2, batchSize: 1000 });
    expect(await pool.evaluate(test)).toEqual(model.evaluate(test, { batchSize: 1000 }));
    expect(chunksBy(pool).reduce((a, b) => a + b)).toBe(Math.ceil(1000 / INFER_CHUNK));
    expect(Buffer.from((await pool.predict(test.images)).buffer).equals(Buffer.from(probs.buffer))).toBe(true);
    await pool.dispose();
    model.dispose();
  }, 60_000);

  it('workers take chunks one at a time: a worker that comes late computes none, and the results are the same bits', async () => {
    const { createInferencePool } = await import('../ts/parallel/infer.js');
    const be = await initBackend({ backend: 'simd' });
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 2 });
    const test = mnistSample('t10k', 800);
    const probs = model.predict(test.images, { batchSize: 50 }), ev = model.evaluate(test, { batchSize: 50 });
    const pool = await createInferencePool(model, { workers: 2, batchSize: 50 });
    await pool.predict(test.images);
    expect(chunksBy(pool).reduce((a, b) => a + b)).toBe(16);
    // Worker 1 takes no chunk until every chunk is taken: worker 0 takes them all, one at a time, however loaded the machine.
    injectFault(pool, 1, 'late');
    expect(Buffer.from((await pool.predict(test.images)).buffer).equals(Buffer.from(probs.buffer))).toBe(true);
    expect(chunksBy(pool)).toEqual([16, 0]);
    expect(await pool.evaluate(test)).toEqual(ev);
    expect(chunksBy(pool)).toEqual([16, 0]);
    await pool.dispose();
    model.dispose();
  }, 60_000);
});

describe('the calling thread as worker 0', () => {
  /** Five steps of lenet5-bn on a pool of `workers`, the update applied here; the model file after them. */
  async function poolSteps(workers: number, callerComputes: boolean) {
    const be = await initBackend({ backend: 'simd' });
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 4 });
    const optimizer = optimizerFromConfig(recipe.optimizer);
    const data = mnistSample('train', 300);
    const { TrainingPool } = await import('../ts/parallel/pool.js');
    const pool = await TrainingPool.create(model.net, data, workers, 96, undefined, callerComputes);
    expect(pool.callerComputes).toBe(callerComputes);
    expect(pool.liveWorkers).toBe(callerComputes ? workers - 1 : workers);
    const losses: number[] = [];
    // Batches of 96, 96, 96, 12 (one leaf: the other workers sit it out), 96.
    for (const [from, n] of [[0, 96], [96, 96], [192, 96], [288, 12], [30, 96]]) {
      losses.push((await pool.step(null, from, n, 11 + from)).loss);
      optimizer.step(be, model.params());
      model.weightsChanged();
    }
    await pool.dispose();
    expect(pool.liveWorkers).toBe(0);
    const bytes = serializeModel(model, { optimizer });
    model.dispose();
    return { bytes, losses };
  }

  it('gives the same bits as workers that are all threads of their own (the browser main thread\'s way)', async () => {
    const ref = await poolSteps(2, false);
    for (const [workers, caller] of [[2, true], [3, true], [3, false]] as const) {
      const r = await poolSteps(workers, caller);
      expect(r.losses, `${workers} workers, caller computes: ${caller}`).toEqual(ref.losses);
      expect(Buffer.from(r.bytes).equals(Buffer.from(ref.bytes)), `${workers} workers, caller computes: ${caller}`).toBe(true);
    }
  }, 60_000);
});

describe('leaves split by speed', () => {
  /** Five steps of lenet5-bn (batches of 96, 96, 96, 12, 96), on this thread alone or on a pool whose leaves split at `split`; the model file and losses after them. */
  async function steps(workers: number, split?: (leaves: number, active: number) => number[]) {
    const be = await initBackend({ backend: 'simd' });
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 8 });
    const optimizer = optimizerFromConfig(recipe.optimizer);
    const data = mnistSample('train', 300);
    const { TrainingPool } = await import('../ts/parallel/pool.js');
    const pool = workers > 1 ? await TrainingPool.create(model.net, data, workers, 96) : null;
    if (split) forceSplit(pool!, split);
    const losses: number[] = [];
    for (const [from, n] of [[0, 96], [96, 96], [192, 96], [288, 12], [30, 96]]) {
      if (pool) {
        losses.push((await pool.step(null, from, n, 11 + from)).loss);
        optimizer.step(be, model.params());
        model.weightsChanged();
      } else {
        losses.push(model.trainStep(data, null, from, n, optimizer, 11 + from).loss);
      }
    }
    await pool?.dispose();
    const bytes = serializeModel(model, { optimizer });
    model.dispose();
    return { bytes, losses };
  }

  it('any split of the leaves among the workers gives the bits of one thread', async () => {
    const one = await steps(1);
    // 6 leaves a batch of 96 (1 for the batch of 12, which one worker computes whatever the split).
    const splits: [number, (L: number, a: number) => number[]][] = [
      [2, (L, a) => (a === 1 ? [0, L] : [0, 1, L])],
      [2, (L, a) => (a === 1 ? [0, L] : [0, L - 1, L])],
      [2, (L, a) => (a === 1 ? [0, L] : [0, 5, L])],
      [3, (L, a) => (a === 1 ? [0, L] : [0, 1, 2, L])],
      [3, (L, a) => (a === 1 ? [0, L] : [0, 3, 5, L])],
    ];
    for (const [workers, split] of splits) {
      const r = await steps(workers, split);
      const name = `${workers} workers, split ${JSON.stringify(split(6, workers))}`;
      expect(r.losses, name).toEqual(one.losses);
      expect(Buffer.from(r.bytes).equals(Buffer.from(one.bytes)), name).toBe(true);
    }
  }, 120_000);

  /** Runs `f` on a 2-worker pool of lenet5-bn over 128 sample digits, then ends both. */
  async function withPool(maxBatch: number, f: (pool: TrainingPool) => Promise<void>) {
    const be = await initBackend({ backend: 'simd' });
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 8 });
    const { TrainingPool } = await import('../ts/parallel/pool.js');
    const pool = await TrainingPool.create(model.net, mnistSample('train', 128), 2, maxBatch);
    try {
      await f(pool);
    } finally {
      await pool.dispose();
      model.dispose();
    }
  }

  it('refuses a split that leaves a worker without leaves or does not cover the batch', async () => {
    await withPool(96, async (pool) => {
      for (const bad of [[0, 0, 6], [0, 6, 6], [0, 3, 5], [1, 3, 6], [0, 6]]) {
        forceSplit(pool, () => bad);
        await expect(pool.step(null, 0, 96, 1)).rejects.toThrow(`fit: ${JSON.stringify(bad)} does not split 6 leaves among 2 workers, at least one each`);
      }
      forceSplit(pool, null);
      expect(Number.isFinite((await pool.step(null, 0, 96, 1)).loss)).toBe(true);
    });
  }, 60_000);

  it('a slower worker is given fewer leaves, a faster one more', async () => {
    await withPool(128, async (pool) => {
      for (let s = 0; s < 10; s++) await pool.step(null, 0, 128, s); // the workers' code compiles over the first steps
      injectFault(pool, 1, 'heavy'); // worker 1 (a thread; 0 is this one) reports 1 s more compute a leaf than it took: far slower, however loaded the machine
      const splits: number[][] = [];
      pool.resetTiming();
      for (let s = 0; s < 16; s++) {
        await pool.step(null, 0, 128, s);
        splits.push(Array.from((pool as unknown as { v: { split: Int32Array } }).v.split));
      }
      expect(pool.speeds[1]).toBeGreaterThan(2 * pool.speeds[0]);
      expect(splits.slice(-4)).toEqual(Array(4).fill([0, 7, 8]));
      expect(pool.timing().uneven).toBe(splits.filter((b) => b[1] !== 4).length / 16);
    });
  }, 60_000);
});

describe('a worker that fails in the middle of a step', () => {
  async function fitWithFault(how: 'throw' | 'exit' | 'hang', callerComputes: boolean) {
    const be = await initBackend({ backend: 'simd' });
    const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    const { TrainingPool } = await import('../ts/parallel/pool.js');
    const data = mnistSample('train', 1000);
    const pool = await TrainingPool.create(model.net, data, 2, 128, undefined, callerComputes);
    const optimizer = optimizerFromConfig(recipe.optimizer);
    let steps = 0;
    const err = await (async () => {
      for (let from = 0; from + 128 <= data.count; from += 128, steps++) {
        if (steps === 2) {
          setStallMs(pool, 300); // a dead worker cannot say so while this thread blocks at a barrier
          injectFault(pool, callerComputes ? 1 : 0, how);
        }
        const r = await pool.step(null, from, 128, from);
        expect(Number.isFinite(r.loss)).toBe(true);
        optimizer.step(be, model.params());
      }
      return null;
    })().catch((e: Error) => e);
    await pool.dispose();
    expect(pool.liveWorkers).toBe(0);
    model.dispose();
    return { err, steps };
  }

  it.each([true, false])('a thrown error fails that step with the worker\'s name and message (caller computes: %s)', async (caller) => {
    const { err, steps } = await fitWithFault('throw', caller);
    expect(steps).toBe(2);
    expect(err?.message).toMatch(new RegExp(`^fit: worker ${caller ? 1 : 0} of 2 failed: Error: injected fault`));
  }, 60_000);

  it.each([true, false])('a thread that ends mid-step fails that step as exited (caller computes: %s)', async (caller) => {
    const { err, steps } = await fitWithFault('exit', caller);
    expect(steps).toBe(2);
    expect(err?.message).toBe(`fit: worker ${caller ? 1 : 0} of 2 exited (code 1)`);
  }, 60_000);

  it('a worker that never finishes its step fails the step, and dispose ends it', async () => {
    // The calling thread gives up after stallMs (300 ms here), waits for a message that does not come, and says why.
    const { err, steps } = await fitWithFault('hang', true);
    expect(steps).toBe(2);
    expect(err?.message).toBe('fit: no other worker finished its step within 300 ms; a worker may have died');
  }, 60_000);
});

describe('combining the gradient columns', () => {
  it('whichever worker is first combines the blocks whose leaves all workers have handed on: a late worker combines none, and the bits stay', async () => {
    // lenet5: no batch norm, so no barrier within the step where a waiting worker would combine blocks too.
    const { TrainingPool } = await import('../ts/parallel/pool.js');
    const be = await initBackend({ backend: 'simd' });
    const data = mnistSample('train', 256);
    const grads = async (slow: boolean) => {
      const { model } = createPreset('lenet5', { backend: be, seed: 6 });
      const pool = await TrainingPool.create(model.net, data, 2, 128);
      await pool.step(null, 0, 128, 1);
      pool.resetTiming();
      if (slow) injectFault(pool, 1, 'late'); // worker 1 hands on its leaves, then waits until every block is combined
      await pool.step(null, 128, 128, 2);
      const by = blocksBy(pool), g = model.net.leafParams().map((p) => Buffer.from(p.grad!.view.slice().buffer));
      await pool.dispose();
      model.dispose();
      return { by, g };
    };
    const slow = await grads(true), even = await grads(false);
    expect(slow.by[1]).toBe(0);
    expect(slow.by[0]).toBe(even.by[0] + even.by[1]);
    expect(slow.by[0]).toBeGreaterThan(10);
    slow.g.forEach((b, i) => expect(b.equals(even.g[i]), `leaf parameter ${i}`).toBe(true));
  }, 60_000);
});

describe('the ceiling probes (bench --workers)', () => {
  it('multiply-add: runs a step\'s share on each thread and meets every barrier, or the whole step on one thread without barriers', async () => {
    const { CeilingProbe } = await import('../ts/bench/ceiling.js');
    const { C } = await import('../ts/parallel/layout.js');
    const be = await initBackend({ backend: 'simd' });
    const probe = await CeilingProbe.madd(be, 3, 4, 2);
    const ctrl = (probe as unknown as { ctrl: Int32Array }).ctrl;
    probe.one();
    expect(Atomics.load(ctrl, C.BAR_GEN)).toBe(0);
    for (let i = 0; i < 5; i++) probe.many();
    expect(Atomics.load(ctrl, C.BAR_GEN)).toBe(5 * 4); // each barrier opens once all 3 threads arrive
    expect(Atomics.load(ctrl, C.DONE)).toBe(2);
    await probe.dispose();
  }, 30_000);

  it('independent trainings: each thread trains its share with a model of its own, without barriers; one thread alone trains every share in turn', async () => {
    const { CeilingProbe } = await import('../ts/bench/ceiling.js');
    const { C } = await import('../ts/parallel/layout.js');
    const be = await initBackend({ backend: 'simd' });
    const d = mnistSample('train', 48);
    const images = d.images as Uint8Array, labels = Uint8Array.from(d.labels);
    const probe = await CeilingProbe.train(be, 3, 'lenet5-bn', images, labels);
    const own = probe as unknown as { ctrl: Int32Array; own: { model: Sequential } };
    // The reference: the same preset and seed trained by hand on the calling thread's share, then on every share.
    const { model: ref, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    const opt = optimizerFromConfig(recipe.optimizer), data = { images, labels, count: 48 };
    let step = 0;
    try {
      for (let i = 0; i < 2; i++) {
        probe.many();
        ref.trainStep(data, null, 0, 16, opt, step++);
        expect(Atomics.load(own.ctrl, C.DONE)).toBe(2);
      }
      probe.one();
      for (const from of [0, 16, 32]) ref.trainStep(data, null, from, 16, opt, step++);
      // Buffer.equals: a failing toEqual on two models' bytes hangs the run (its diff), and the probe's threads must end either way.
      expect(Buffer.from(serializeModel(own.own.model)).equals(Buffer.from(serializeModel(ref)))).toBe(true);
      expect(Atomics.load(own.ctrl, C.BAR_GEN)).toBe(0);
    } finally {
      await probe.dispose();
      ref.dispose();
    }
  }, 30_000);

  it("independent trainings split the batch as the pool does, by whole leaves: 48 images on 2 threads are 16 + 32, not 24 + 24", async () => {
    const { CeilingProbe } = await import('../ts/bench/ceiling.js');
    const be = await initBackend({ backend: 'simd' });
    const d = mnistSample('train', 48);
    const images = d.images as Uint8Array, labels = Uint8Array.from(d.labels);
    const probe = await CeilingProbe.train(be, 2, 'lenet5-bn', images, labels);
    const own = probe as unknown as { own: { model: Sequential } };
    // The pool: 3 leaves of 16 on 2 workers, worker w owning leaves [floor(3w/2), floor(3(w+1)/2)): worker 0 leaf 0, worker 1 leaves 1 and 2.
    const { model: ref, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    const opt = optimizerFromConfig(recipe.optimizer), data = { images, labels, count: 48 };
    try {
      probe.many();
      ref.trainStep(data, null, 0, 16, opt, 0);
      probe.one();
      ref.trainStep(data, null, 0, 16, opt, 1);
      ref.trainStep(data, null, 16, 32, opt, 2);
      expect(Buffer.from(serializeModel(own.own.model)).equals(Buffer.from(serializeModel(ref)))).toBe(true);
    } finally {
      await probe.dispose();
      ref.dispose();
    }
  }, 30_000);
});

describe('bench --workers', () => {
  it('leaves PyTorch out when asked, installed or not, and still times both worker counts', async () => {
    const { benchWorkers } = await import('../ts/bench/workers.js');
    const r = await benchWorkers({ model: 'lenet5-bn', workers: [2], batches: [32], rounds: 1, warmupMs: 0, inferImages: 128, pytorch: false });
    expect(r.pytorch).toMatch(/not measured/);
    // The build 'auto' would pick among the SIMD ones.
    const { relaxedSupported } = await import('../ts/backend/load.js');
    expect(r.build).toBe(relaxedSupported() ? 'relaxed' : 'simd');
    expect(r.rows.every((x) => x.system === 'cnn-wasm')).toBe(true);
    expect(r.rows.map((x) => `${x.mode} ${x.threads}`)).toEqual(['train 1', 'train 2', 'infer 1', 'infer 2']);
    expect(r.rows.every((x) => x.imagesPerSecond > 0 && x.vsPytorch === undefined)).toBe(true);
  }, 120_000);

  it('refuses a batch that cannot give every worker a leaf, before starting anything', async () => {
    const { benchWorkers } = await import('../ts/bench/workers.js');
    await expect(benchWorkers({ model: 'lenet5-bn', workers: [2], batches: [16], rounds: 1, warmupMs: 0, pytorch: false }))
      .rejects.toThrow(/a batch of 16 has 1 gradient leaf of 16 images, and a worker computes whole leaves: 2 workers need --batch 17 or more/);
  });
});

describe('barrier waits', () => {
  it('spin up to SPIN_MAX_MS while waits end sooner, and drop to SPIN_MIN_MS after one that lasts longer (the other thread not running)', async () => {
    const { C } = await import('../ts/parallel/layout.js');
    const { SPIN_GROWTH, SPIN_MAX_MS, SPIN_MIN_MS, Waiter } = await import('../ts/parallel/sync.js');
    const waiter = new Waiter(); // this test's own: no spin left by earlier tests
    const ctrl = new Int32Array(new SharedArrayBuffer(4 * 32));
    Atomics.store(ctrl, C.BAR_GEN, 1);
    for (let i = 0; i < 100; i++) waiter.waitChange(ctrl, C.BAR_GEN, 0); // ends at once: a short wait
    expect(waiter.spinMs).toBe(SPIN_MAX_MS);
    waiter.waited(SPIN_MAX_MS + 0.5);
    expect(waiter.spinMs).toBe(SPIN_MIN_MS);
    waiter.waited(SPIN_MAX_MS / 2); // a wait the spin would have caught grows it
    expect(waiter.spinMs).toBeCloseTo(SPIN_MIN_MS * SPIN_GROWTH, 12);
    let k = 1;
    for (; waiter.spinMs < SPIN_MAX_MS; k++) waiter.waitChange(ctrl, C.BAR_GEN, 0);
    expect(k).toBe(Math.ceil(Math.log(SPIN_MAX_MS / SPIN_MIN_MS) / Math.log(SPIN_GROWTH)));
    // A real wait that outlasts the spin (another thread changes the value 50 ms later) drops it again.
    const { Worker } = await import('node:worker_threads');
    const gate = new Int32Array(new SharedArrayBuffer(4 * 32)), g = C.BAR_GEN;
    const w = new Worker(`const { workerData } = require("node:worker_threads"); const a = new Int32Array(workerData); `
      + `Atomics.store(a, ${g}, 1); Atomics.notify(a, ${g}); const t = performance.now(); while (performance.now() - t < 50); Atomics.store(a, ${g}, 2); Atomics.notify(a, ${g});`,
    { eval: true, workerData: gate.buffer });
    waiter.waitChange(gate, g, 0); // the thread has started
    waiter.waitChange(gate, g, 1);
    expect(Atomics.load(gate, g)).toBe(2);
    expect(waiter.spinMs).toBe(SPIN_MIN_MS);
    await w.terminate();
  }, 30_000);
});

describe('fit on workers', () => {
  it('reports the share of each step the workers waited for one another, and warns once when it is large', async () => {
    const { WAIT_WARNING } = await import('../ts/train/fit.js');
    const be = await initBackend({ backend: 'simd' });
    const run = async (workers: number, slow: boolean, epochs: number) => {
      const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 3 });
      const warnings: string[] = [], waits: (number | undefined)[] = [];
      await model.fit(mnistSample('train', 128), {
        optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 32, epochs, workers,
        callbacks: {
          // Worker 1 then sleeps 20 ms a leaf, one leaf a step (2 leaves of 16 a batch: no split but 1/1): the calling thread waits for it.
          onTrainBegin: () => { if (slow) injectFault(poolOf(model)!, 1, 'slow'); },
          onWarning: (w) => { if (w.includes('waited')) warnings.push(w); }, // (not the one about more workers than cores)
          onEpochEnd: (l) => { waits.push(l.workerWait); },
        },
      });
      model.dispose();
      return { warnings, waits };
    };
    // 4 steps an epoch, each over 20 ms: the warning counts the steps after the workers' first 3 s, and needs 20 of them.
    const slow = await run(2, true, 50);
    expect(slow.waits.every((w) => w! > WAIT_WARNING && w! <= 1), String(slow.waits)).toBe(true);
    expect(slow.warnings).toHaveLength(1);
    expect(slow.warnings[0]).toMatch(/^the 2 workers waited \d+% of each step for one another at barriers \(\d+ steps to epoch \d+\): .*fewer workers may train faster/);
    // A short run warns of nothing: its steps are the workers' first.
    const short = await run(2, true, 2);
    expect(short.warnings).toEqual([]);
    expect(short.waits.every((w) => w! >= 0 && w! <= 1)).toBe(true);
    expect((await run(1, false, 2)).waits).toEqual([undefined, undefined]);
  }, 60_000);

  it('starts no more workers than a batch has leaves, and warns of that and of more workers than cores', async () => {
    const { availableCores } = await import('../ts/parallel/pool.js');
    const be = await initBackend({ backend: 'simd' });
    const fit = async (workers: number, batchSize: number) => {
      const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 3 });
      const warnings: string[] = [];
      let size = 1;
      await model.fit(mnistSample('train', 96), {
        optimizer: optimizerFromConfig(recipe.optimizer), batchSize, workers, maxSteps: 2,
        callbacks: { onWarning: (w) => warnings.push(w), onTrainBegin: () => { size = poolOf(model)?.size ?? 1; } },
      });
      const bytes = serializeModel(model);
      model.dispose();
      return { warnings, size, bytes };
    };
    const cores = await availableCores();
    // A batch of 32 is two leaves of 16: 8 workers asked for, 2 started.
    const capped = await fit(8, 32);
    expect(capped.size).toBe(2);
    expect(capped.warnings[0]).toBe('8 workers asked for, but a batch of 32 examples has 2 gradient leaves of 16, and a worker computes whole leaves: starting 2 (any worker count gives the same bits)');
    expect(capped.warnings.slice(1).every((w) => w.startsWith(`2 workers on ${cores} cores:`))).toBe(true);
    expect(Buffer.from(capped.bytes).equals(Buffer.from((await fit(1, 32)).bytes))).toBe(true);
    // One worker more than the cores, on a batch with a leaf for each.
    const over = await fit(cores + 1, 16 * (cores + 1));
    expect(over.size).toBe(cores + 1);
    expect(over.warnings).toEqual([`${cores + 1} workers on ${cores} cores: they take turns on the cores and wait for one another at every barrier, `
      + `so training is likely slower than with ${cores} (any worker count gives the same bits)`]);
    expect((await fit(1, 32)).warnings).toEqual([]);
  }, 60_000);
});

describe('a script run as `node --input-type=module -e`', () => {
  it('trains on 2 workers, predicts on a pool of 2 and decodes a folder on 2 threads, as the same script run from a file does', () => {
    // Threads inherit the parent's Node options, and Node refuses --input-type in a thread: each worker
    // failed with ERR_INPUT_TYPE_NOT_ALLOWED until the library dropped it from the threads' options.
    const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-eval-'));
    const png = new PNG({ width: 2, height: 2 });
    for (const c of ['a', 'b']) mkdirSync(join(dir, 'pics', c), { recursive: true });
    for (let i = 0; i < 300; i++) {
      png.data.fill(i % 2 ? 200 : 30);
      writeFileSync(join(dir, 'pics', i % 2 ? 'b' : 'a', `${i}.png`), PNG.sync.write(png));
    }
    const lib = (f: string) => JSON.stringify(new URL(`../dist/${f}`, import.meta.url).href);
    const script = `
      const { initBackend, createPreset, optimizerFromConfig, createInferencePool } = await import(${lib('index.js')});
      const { readSplit, sampleDir, loadImageFolder } = await import(${lib('node.js')});
      const be = await initBackend({ backend: 'simd' });
      const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 3 });
      const s = readSplit(sampleDir(), 'train');
      const data = { images: s.images.subarray(0, 128 * 784), labels: s.labels.subarray(0, 128), count: 128 };
      const h = await model.fit(data, { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 1, batchSize: 64, seed: 1, workers: 2 });
      const pool = await createInferencePool(model, { workers: 2 });
      const probs = Array.from(await pool.predict(data.images.subarray(0, 64 * 784)));
      await pool.dispose();
      const own = Array.from(model.predict(data.images.subarray(0, 64 * 784)));
      const f = await loadImageFolder(${JSON.stringify(join(dir, 'pics'))}, { threads: 2, strict: true });
      console.log(JSON.stringify({ loss: h.epochs[0].loss, samePredictions: probs.every((p, i) => p === own[i]), folder: [f.train.count, f.skipped.length, Array.from(f.train.labels).slice(0, 8)] }));`;
    const file = join(dir, 'script.mjs');
    writeFileSync(file, script);
    const fromFile = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    expect(fromFile.status, fromFile.stderr).toBe(0);
    const inline = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(inline.status, inline.stderr).toBe(0);
    expect(inline.stdout).toBe(fromFile.stdout);
    const r = JSON.parse(inline.stdout);
    expect(r.samePredictions).toBe(true);
    expect(r.folder[0] + r.folder[1]).toBe(300);
    expect(Number.isFinite(r.loss)).toBe(true);
  }, 120_000);
});
