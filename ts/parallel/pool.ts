/**
 * Data-parallel training on worker threads (Node) or Web Workers. One model
 * and one optimiser stay on the calling thread; each step the pool hands the
 * parameters and the batch's indices to N workers, which compute the batch's
 * gradient leaves between them (see shard.ts) and return the combined
 * gradients and batch-norm statistics. The result is the same bits as
 * training in one thread, for any N. Each worker computes a run of the
 * batch's gradient leaves, more of them the faster it has been lately (see
 * balance.ts): where the runs end does not change the bits.
 *
 * Where the calling thread may block (Node, or a Web Worker) it is worker 0
 * itself, with the model it already has, and N - 1 threads are started: no
 * thread waits for the step while two compute, nobody wakes the caller, and
 * one copy of the model fewer. A browser's main thread only waits, for N
 * Web Workers.
 */
import type { Backend } from '../backend/load.js';
import { meanOfRows } from '../kernels/loss.js';
import type { Param } from '../layers/layer.js';
import type { Net } from '../engine/net.js';
import type { Dataset } from '../engine/types.js';
import type { Augment } from '../data/augment.js';
import { evenSplit, LeafBalancer } from './balance.js';
import { pack, unpack } from './pack.js';
import { canBlock, WorkerGroup, type CreateWorker } from './group.js';
import { C, CMD, layoutBytes, modelSpec, PoolAborted, PoolStalled, T, TIMES, views, type LayoutSizes, type SharedViews } from './layout.js';
import { ShardTrainer } from './shard-trainer.js';
import { LEAF_SIZE, leafCount } from '../layers/step.js';
import type { WorkerInit } from './worker.js';

export { availableCores, WorkerError, type CreateWorker } from './group.js';

/** How long the calling thread, as worker 0, waits at one barrier before it takes the others for dead. */
const STALL_MS = 30_000;

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
  /** Steps since the timing was reset, and of them those whose leaves were not split evenly. */
  private stepsRun = 0;
  private unevenSteps = 0;

  private group!: WorkerGroup;
  /** The calling thread's part of each step, when it is worker 0. */
  private own: ShardTrainer | null = null;
  private count = 0;
  /** Who computes which leaves (see balance.ts), and each worker's compute so far (ms) as the timing had it after the last step. */
  private balancer!: LeafBalancer;
  private readonly computeSeen: number[];
  /** Tests: each step's split of the leaves instead of the balancer's. */

  private constructor(model: Net, sab: SharedArrayBuffer, sizes: LayoutSizes) {
    this.v = views(sab, sizes);
    this.params = model.params();
    this.leafParams = model.leafParams();
    const leafSet = new Set(this.leafParams);
    this.otherTrainable = this.params.filter((p) => p.grad && !leafSet.has(p));
    this.computeSeen = new Array<number>(sizes.workers).fill(0);
  }

  /**
   * Starts `count` workers for `model`, training on `data` in batches of at
   * most `maxBatch`. `callerComputes` (internal: tests run the browser's way in
   * Node) makes this thread worker 0; only where it may block. `balance`
   * (internal: side-by-side measurements of the balancer) false keeps every
   * step's leaves split evenly.
   */
  static async create(
    model: Net, data: Dataset, count: number, maxBatch: number, createWorker?: CreateWorker, callerComputes = canBlock, balance = true, augment: Augment | null = null,
  ): Promise<TrainingPool> {
    if (callerComputes && !canBlock) throw new Error('fit: this thread cannot block, so it cannot be worker 0');
    const be: Backend = model.backend;
    if (!be.module) throw new Error(`fit: workers need the compiled kernels module; initBackend() from bytes, a URL or a module (not a bundler's instance) to use workers`);
    const params = model.params();
    const leafParams = model.leafParams();
    const bnWidth = Math.max(1, ...model.layers.map((l) => l.reducedColumns));
    const sizes: LayoutSizes = {
      workers: count, maxBatch, maxLeaves: leafCount(maxBatch),
      params: params.reduce((s, p) => s + p.value.length, 0),
      trainable: params.filter((p) => p.grad).reduce((s, p) => s + p.value.length, 0),
      leafValues: leafParams.reduce((s, p) => s + p.value.length, 0),
      leafParams: leafParams.length,
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
    const first = callerComputes ? 1 : 0;
    const inits: WorkerInit[] = Array.from({ length: count - first }, (_, i) => ({
      index: first + i, sab, sizes, backend: be.name, module: be.module!, model: modelSpec(model), data: { images, labels, count: data.count, float }, augment,
    }));
    pool.group = await WorkerGroup.start('worker', inits, pool.v.ctrl, 'fit', createWorker, first);
    pool.count = count;
    pool.balancer = new LeafBalancer(count, balance);
    if (first) pool.own = new ShardTrainer(0, pool.v, be, model, data, true, STALL_MS, augment);
    return pool;
  }

  /** How many workers the pool has (the calling thread counts when it is worker 0). */
  get size(): number {
    return this.count;
  }

  /** Whether the calling thread is worker 0 (else all workers are threads of their own). */
  get callerComputes(): boolean {
    return this.own !== null;
  }

  /** Each worker's smoothed milliseconds of compute per gradient leaf, which the leaves are split by (NaN: not measured yet). */
  get speeds(): readonly number[] {
    return this.balancer.speeds;
  }

  /** Where this step's leaves are split among the active workers: the first leaf of each, then the leaf count (see balance.ts). */
  protected splitFor(leaves: number, active: number): number[] {
    return this.balancer.split(leaves, active);
  }

  /** Worker threads still running (0 after dispose). */
  get liveWorkers(): number {
    return this.group.liveWorkers;
  }

  /** Ends every worker. Idempotent. */
  async dispose(): Promise<void> {
    await this.group.dispose();
    this.own?.dispose();
    this.own = null;
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
    pack(v.params, this.params.map((p) => p.value));
    for (let b = 0; b < n; b++) v.idx[b] = idx ? idx[from + b] : from + b;
    const L = leafCount(n), active = Math.min(this.count, L);
    const split = this.splitFor(L, active);
    if (split.length !== active + 1 || split[0] !== 0 || split[active] !== L || split.some((b, w) => w > 0 && b <= split[w - 1])) {
      throw new Error(`fit: ${JSON.stringify(split)} does not split ${L} leaves among ${active} workers, at least one each`);
    }
    v.split.set(split);
    this.stepsRun++;
    const even = evenSplit(L, active);
    if (split.some((b, w) => b !== even[w])) this.unevenSteps++;
    Atomics.store(ctrl, C.N, n);
    Atomics.store(ctrl, C.SEED_LO, stepSeed % 2 ** 32);
    Atomics.store(ctrl, C.SEED_HI, Math.floor(stepSeed / 2 ** 32));
    Atomics.store(ctrl, C.ACTIVE, active);
    Atomics.store(ctrl, C.NEXT_BLOCK, 0);
    this.group.run(CMD.STEP);
    const t1 = performance.now();
    let tw = t1;
    try {
      this.own?.step();
      tw = performance.now();
      await this.group.wait(this.own !== null, this.own?.stallMs);
    } catch (e) {
      this.group.abort();
      if (!(e instanceof PoolAborted)) throw e;
      // A worker failed, or (stalled) did not come to a barrier or to the step's end: its message, if it sends one, names it.
      throw await this.group.failureAfterAbort(e instanceof PoolStalled ? `${e.message}; a worker may have died` : 'the workers stopped');
    }
    const t2 = performance.now();
    // The calling thread, as worker 0, waited that long for the others to finish.
    if (this.own) v.timing[T.WAIT] += t2 - tw;
    const computeMs = this.computeSeen.map((seen, w) => {
      const now = v.timing[w * TIMES + T.COMPUTE];
      this.computeSeen[w] = now;
      return now - seen;
    });
    this.balancer.observe(split, n, LEAF_SIZE, computeMs);
    // Gradients: the leaf parameters' columns, then (from worker 0 unless that
    // is this thread) batch norm's gradients and running statistics.
    const col = unpack(v.grads, this.leafParams.map((p) => p.grad!));
    if (!this.own) {
      unpack(v.grads, this.otherTrainable.map((p) => p.grad!), col);
      unpack(v.params, this.params.map((p) => p.value), 0, (i) => !this.params[i].grad);
    }
    let correct = 0;
    for (let w = 0; w < active; w++) correct += v.correct[w];
    this.lastMainMs = t1 - t0 + (performance.now() - t2);
    return { loss: meanOfRows(v.losses, n), correct };
  }

  /**
   * Where the workers' time went, milliseconds per step averaged over workers
   * and steps: copying parameters and images in, computing, waiting for one
   * another (at the batch-norm sums, for leaf gradients a block needs, and
   * the calling thread for the others at the step's end: imbalance and
   * wake-up), copying leaf gradients out and in, and the leaf reduction; and
   * the barriers a step has, counting its end (`barriers`). `step` is the
   * calling thread's wall time per step, including its own copies and the
   * optimiser update (`main`); `uneven`, the share of steps whose leaves the
   * balancer did not split evenly (see balance.ts).
   */
  timing(): { steps: number; step: number; main: number; copyIn: number; compute: number; wait: number; leafCopy: number; reduce: number; barriers: number; uneven: number } {
    const t = this.v.timing, k = this.count;
    const avg = (i: number) => {
      let s = 0, steps = 0;
      for (let w = 0; w < k; w++) { s += t[w * TIMES + i]; steps += t[w * TIMES + T.STEPS]; }
      return steps ? s / steps : 0;
    };
    const steps = this.stepsTimed;
    return {
      steps, step: steps ? this.stepMs / steps : 0, main: steps ? this.mainMs / steps : 0,
      copyIn: avg(T.COPY_IN), compute: avg(T.COMPUTE), wait: avg(T.WAIT), leafCopy: avg(T.LEAF_COPY), reduce: avg(T.REDUCE),
      barriers: avg(T.BARRIERS), uneven: this.stepsRun ? this.unevenSteps / this.stepsRun : 0,
    };
  }

  /** Forgets the timing so far (after warm-up). */
  resetTiming(): void {
    this.v.timing.fill(0);
    this.computeSeen.fill(0);
    this.stepsTimed = 0;
    this.stepMs = 0;
    this.mainMs = 0;
    this.stepsRun = 0;
    this.unevenSteps = 0;
  }

  /** @internal Adds the calling thread's time of one step (pool.step plus the update). */
  countStep(totalMs: number, mainMs: number): void {
    this.stepsTimed++;
    this.stepMs += totalMs;
    this.mainMs += mainMs;
  }
}
