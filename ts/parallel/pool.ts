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
import { C, CMD, layoutBytes, T, TIMES, views, type LayoutSizes, type SharedViews } from './protocol.js';
import { leafCount } from './shard.js';
import type { WorkerInit } from './worker.js';

type NodeWorker = import('node:worker_threads').Worker;

/** How long the calling thread blocks waiting for a step before it listens for worker failures too. */
const SYNC_WAIT_MS = 250;
/** Atomics.wait may block here (Node's main thread and workers may; a browser's main thread may not). */
const isNodeMain = typeof process === 'object' && typeof process.versions?.node === 'string';

/** A worker failed or died: the message names the worker and the cause. */
export class WorkerError extends Error {}

/** How many workers 'auto' means: the cores the runtime reports. */
export async function availableCores(): Promise<number> {
  if (typeof navigator === 'object' && typeof navigator?.hardwareConcurrency === 'number') return Math.max(1, navigator.hardwareConcurrency);
  const osName = 'node:os';
  const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** A pool of training workers for one model, one data set and a largest batch. */
export class TrainingPool {
  private readonly v: SharedViews;
  private readonly params: Param[];
  private readonly leafParams: Param[];
  private readonly otherTrainable: Param[];
  private readonly stats: Param[];
  private failure: WorkerError | null = null;
  private failed!: Promise<never>;
  private closed = false;
  /** The calling thread's own milliseconds in the last step (copies in and out). */
  lastMainMs = 0;
  private stepsTimed = 0;
  private stepMs = 0;
  private mainMs = 0;

  private constructor(
    private readonly model: Sequential,
    readonly workers: NodeWorker[],
    sab: SharedArrayBuffer,
    sizes: LayoutSizes,
  ) {
    this.v = views(sab, sizes);
    this.params = model.params();
    this.leafParams = model.leafParams();
    const leafSet = new Set(this.leafParams);
    this.otherTrainable = this.params.filter((p) => p.grad && !leafSet.has(p));
    this.stats = this.params.filter((p) => !p.grad);
  }

  /** Starts `count` workers for `model`, training on `data` in batches of at most `maxBatch`. */
  static async create(model: Sequential, data: Dataset, count: number, maxBatch: number): Promise<TrainingPool> {
    if (!(typeof process === 'object' && typeof process.versions?.node === 'string')) {
      throw new Error('fit: workers need Node worker_threads here; in a browser, train in a Web Worker with workers: 1');
    }
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
    const spec: WorkerInit['model'] = {
      layers: model.layers.map((l) => l.config()), inputShape: model.inputShape, classes: model.classes, normalization: model.normalization,
    };
    const wtName = 'node:worker_threads', fsName = 'node:fs';
    const { Worker } = (await import(/* @vite-ignore */ wtName)) as typeof import('node:worker_threads');
    const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
    // The compiled worker; tests run the TypeScript sources, whose worker is the built one.
    let script = new URL('./worker.js', import.meta.url);
    if (!existsSync(script)) script = new URL('../../dist/parallel/worker.js', import.meta.url);
    if (!existsSync(script)) throw new Error(`fit: the worker script ${script.pathname} is missing; run \`npm run build\``);
    const workers: NodeWorker[] = [];
    const pool = new TrainingPool(model, workers, sab, sizes);
    const ready: Promise<void>[] = [];
    let rejectFailed!: (e: WorkerError) => void;
    pool.failed = new Promise<never>((_, reject) => (rejectFailed = reject));
    pool.failed.catch(() => { /* observed by step() */ });
    const fail = (i: number, why: string) => {
      if (pool.failure || pool.closed) return;
      pool.failure = new WorkerError(`fit: worker ${i} of ${count} ${why}`);
      Atomics.store(pool.v.ctrl, C.ABORT, 1);
      Atomics.notify(pool.v.ctrl, C.BAR_GEN);
      rejectFailed(pool.failure);
    };
    for (let i = 0; i < count; i++) {
      const init: WorkerInit = { index: i, sab, sizes, backend: be.name, module: be.module, model: spec, data: { images, labels, count: data.count, float } };
      const wk = new Worker(script, { workerData: init });
      workers.push(wk);
      ready.push(new Promise<void>((resolve, reject) => {
        wk.on('message', (m: { type: string; message?: string }) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') fail(i, `failed: ${m.message}`);
        });
        wk.on('error', (e) => { fail(i, `failed: ${e?.stack ?? e}`); reject(pool.failure); });
        wk.on('exit', (code) => { fail(i, `exited (code ${code}) during training`); reject(pool.failure); });
      }));
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  /**
   * One step on examples idx[from..from+n): the workers compute the gradients
   * into the model's `grad` buffers and the batch-norm statistics into the
   * model. Returns the mean loss and the count classified correctly.
   */
  async step(idx: Uint32Array | null, from: number, n: number, stepSeed: number): Promise<{ loss: number; correct: number }> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('fit: the worker pool is closed');
    const t0 = performance.now();
    const v = this.v, ctrl = v.ctrl;
    if (n > v.sizes.maxBatch) throw new Error(`fit: batch of ${n} exceeds the pool's ${v.sizes.maxBatch}`);
    let off = 0;
    for (const p of this.params) {
      v.params.set(p.value.view, off);
      off += p.value.length;
    }
    for (let b = 0; b < n; b++) v.idx[b] = idx ? idx[from + b] : from + b;
    const active = Math.min(this.workers.length, leafCount(n));
    Atomics.store(ctrl, C.N, n);
    Atomics.store(ctrl, C.SEED_LO, stepSeed % 2 ** 32);
    Atomics.store(ctrl, C.SEED_HI, Math.floor(stepSeed / 2 ** 32));
    Atomics.store(ctrl, C.ACTIVE, active);
    Atomics.store(ctrl, C.DONE, 0);
    Atomics.store(ctrl, C.CMD, CMD.STEP);
    Atomics.add(ctrl, C.SEQ, 1);
    Atomics.notify(ctrl, C.SEQ);
    const t1 = performance.now();
    await this.waitDone();
    if (this.failure) throw this.failure;
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

  private async waitDone(): Promise<void> {
    const ctrl = this.v.ctrl, total = this.workers.length;
    // Most steps end within milliseconds: sleep on the futex (a wake-up through
    // the event loop costs more), and only after SYNC_WAIT_MS go back to the
    // event loop, where a worker's exit or error is heard.
    const until = performance.now() + SYNC_WAIT_MS;
    if (isNodeMain) {
      for (let d = Atomics.load(ctrl, C.DONE); d < total && performance.now() < until; d = Atomics.load(ctrl, C.DONE)) {
        Atomics.wait(ctrl, C.DONE, d, 5);
      }
    }
    for (;;) {
      const d = Atomics.load(ctrl, C.DONE);
      if (d >= total || this.failure) return;
      const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): { async: boolean; value: Promise<string> | string } })
        .waitAsync(ctrl, C.DONE, d, 1000);
      if (r.async) await Promise.race([r.value as Promise<string>, this.failed.catch(() => undefined)]);
    }
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
    const t = this.v.timing, k = this.workers.length;
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

  /** Ends every worker. Idempotent. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ctrl = this.v.ctrl;
    Atomics.store(ctrl, C.CMD, CMD.EXIT);
    Atomics.store(ctrl, C.ABORT, 1);
    Atomics.add(ctrl, C.SEQ, 1);
    Atomics.notify(ctrl, C.SEQ);
    Atomics.notify(ctrl, C.BAR_GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Workers still running (0 after dispose or a failure's cleanup). */
  get liveWorkers(): number {
    return this.workers.filter((w) => w.threadId !== -1).length;
  }
}
