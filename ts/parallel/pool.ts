/**
 * Data-parallel training on worker threads (Node). One model and one
 * optimiser stay on the calling thread; each step the pool hands the
 * parameters and the batch's indices to N workers, which compute the batch's
 * gradient leaves between them (see shard.ts) and return the combined
 * gradients and batch-norm statistics. The result is the same bits as
 * training in one thread, for any N.
 */
import type { Backend } from '../backend/load.js';
import { meanOfRows } from '../kernels/loss.js';
import type { Param } from '../layers/layer.js';
import type { Dataset, Sequential } from '../model.js';
import { WorkerGroup, type CreateWorker } from './group.js';
import { C, CMD, layoutBytes, modelSpec, T, TIMES, views, type LayoutSizes, type SharedViews } from './protocol.js';
import { leafCount } from './shard.js';
import type { WorkerInit } from './worker.js';

export { availableCores, WorkerError, type CreateWorker } from './group.js';

/** A pool of training workers for one model, one data set and a largest batch. */
export class TrainingPool {
  private readonly v: SharedViews;
  private readonly params: Param[];
  private readonly leafParams: Param[];
  private readonly otherTrainable: Param[];
  /** The calling thread's own milliseconds in the last step (copies in and out). */
  lastMainMs = 0;
  private stepsTimed = 0;
  private stepMs = 0;
  private mainMs = 0;

  private group!: WorkerGroup;

  private constructor(model: Sequential, sab: SharedArrayBuffer, sizes: LayoutSizes) {
    this.v = views(sab, sizes);
    this.params = model.params();
    this.leafParams = model.leafParams();
    const leafSet = new Set(this.leafParams);
    this.otherTrainable = this.params.filter((p) => p.grad && !leafSet.has(p));
  }

  /** Starts `count` workers for `model`, training on `data` in batches of at most `maxBatch`. */
  static async create(model: Sequential, data: Dataset, count: number, maxBatch: number, createWorker?: CreateWorker): Promise<TrainingPool> {
    const be: Backend = model.backend;
    if (!be.module) throw new Error(`fit: workers need the compiled kernels module; initBackend() from bytes, a URL or a module (not a bundler's instance) to use workers`);
    const params = model.params();
    const leafParams = model.leafParams();
    const bnWidth = Math.max(1, ...model.layers.filter((l) => l.kind === 'batchNormalization').map((l) => 2 * l.inputShape[0]));
    const sizes: LayoutSizes = {
      workers: count, maxBatch, maxLeaves: leafCount(maxBatch),
      params: params.reduce((s, p) => s + p.value.length, 0),
      trainable: params.filter((p) => p.grad).reduce((s, p) => s + p.value.length, 0),
      leafValues: leafParams.reduce((s, p) => s + p.value.length, 0),
      tableWidth: bnWidth,
    };
    const sab = new SharedArrayBuffer(layoutBytes(sizes));
    const float = data.images instanceof Float32Array;
    const images = new SharedArrayBuffer(data.images.byteLength);
    (float ? new Float32Array(images) : new Uint8Array(images)).set(data.images as Float32Array & Uint8Array);
    const labels = new SharedArrayBuffer(4 * data.count);
    const lv = new Int32Array(labels);
    for (let i = 0; i < data.count; i++) lv[i] = data.labels[i];
    const pool = new TrainingPool(model, sab, sizes);
    const inits: WorkerInit[] = Array.from({ length: count }, (_, index) => ({
      index, sab, sizes, backend: be.name, module: be.module!, model: modelSpec(model), data: { images, labels, count: data.count, float },
    }));
    pool.group = await WorkerGroup.start('worker', inits, pool.v.ctrl, 'fit', createWorker);
    return pool;
  }

  /** How many workers the pool has. */
  get size(): number {
    return this.group.size;
  }

  /** @internal Ends worker i as if it had crashed (tests). */
  kill(i: number): Promise<void> {
    return this.group.kill(i);
  }

  /** Workers still running (0 after dispose). */
  get liveWorkers(): number {
    return this.group.liveWorkers;
  }

  /** Ends every worker. Idempotent. */
  dispose(): Promise<void> {
    return this.group.dispose();
  }

  /**
   * One step on examples idx[from..from+n): the workers compute the gradients
   * into the model's `grad` buffers and the batch-norm statistics into the
   * model. Returns the mean loss and the count classified correctly.
   */
  async step(idx: Uint32Array | null, from: number, n: number, stepSeed: number): Promise<{ loss: number; correct: number }> {
    this.group.check();
    const t0 = performance.now();
    const v = this.v, ctrl = v.ctrl;
    if (n > v.sizes.maxBatch) throw new Error(`fit: batch of ${n} exceeds the pool's ${v.sizes.maxBatch}`);
    let off = 0;
    for (const p of this.params) {
      v.params.set(p.value.view, off);
      off += p.value.length;
    }
    for (let b = 0; b < n; b++) v.idx[b] = idx ? idx[from + b] : from + b;
    const active = Math.min(this.group.size, leafCount(n));
    Atomics.store(ctrl, C.N, n);
    Atomics.store(ctrl, C.SEED_LO, stepSeed % 2 ** 32);
    Atomics.store(ctrl, C.SEED_HI, Math.floor(stepSeed / 2 ** 32));
    Atomics.store(ctrl, C.ACTIVE, active);
    this.group.run(CMD.STEP);
    const t1 = performance.now();
    await this.group.wait();
    const t2 = performance.now();
    // Gradients: the leaf parameters' columns, then batch norm's.
    let col = 0;
    for (const p of this.leafParams) {
      p.grad!.view.set(v.grads.subarray(col, col + p.value.length));
      col += p.value.length;
    }
    for (const p of this.otherTrainable) {
      p.grad!.view.set(v.grads.subarray(col, col + p.value.length));
      col += p.value.length;
    }
    off = 0;
    for (const p of this.params) {
      if (!p.grad) p.value.view.set(v.params.subarray(off, off + p.value.length));
      off += p.value.length;
    }
    let correct = 0;
    for (let w = 0; w < active; w++) correct += v.correct[w];
    this.lastMainMs = t1 - t0 + (performance.now() - t2);
    return { loss: meanOfRows(v.losses, n), correct };
  }

  /**
   * Where the workers' time went, milliseconds per step averaged over workers
   * and steps: copying parameters and images in, computing, waiting at
   * barriers (the batch-norm sums and the leaf exchange: imbalance and wake-up),
   * copying leaf gradients out and in, and the leaf reduction. `step` is the
   * calling thread's wall time per step, including its own copies and the
   * optimiser update (`main`).
   */
  timing(): { steps: number; step: number; main: number; copyIn: number; compute: number; wait: number; leafCopy: number; reduce: number } {
    const t = this.v.timing, k = this.group.size;
    const avg = (i: number) => {
      let s = 0, steps = 0;
      for (let w = 0; w < k; w++) { s += t[w * TIMES + i]; steps += t[w * TIMES + T.STEPS]; }
      return steps ? s / steps : 0;
    };
    const steps = this.stepsTimed;
    return {
      steps, step: steps ? this.stepMs / steps : 0, main: steps ? this.mainMs / steps : 0,
      copyIn: avg(T.COPY_IN), compute: avg(T.COMPUTE), wait: avg(T.WAIT), leafCopy: avg(T.LEAF_COPY), reduce: avg(T.REDUCE),
    };
  }

  /** Forgets the timing so far (after warm-up). */
  resetTiming(): void {
    this.v.timing.fill(0);
    this.stepsTimed = 0;
    this.stepMs = 0;
    this.mainMs = 0;
  }

  /** @internal Adds the calling thread's time of one step (pool.step plus the update). */
  countStep(totalMs: number, mainMs: number): void {
    this.stepsTimed++;
    this.stepMs += totalMs;
    this.mainMs += mainMs;
  }
}
