/**
 * Inference on worker threads (Node) or Web Workers: a pool that splits a
 * large predict or evaluate into chunks of at most INFER_CHUNK examples,
 * which the workers take one at a time (a worker on a busier or slower core
 * takes fewer). An example's output does not depend on the other examples in
 * its batch (the kernels compute each example on its own; model.test.ts
 * checks it for every preset and batch size), so the results are the same
 * bits as the model's own predict/evaluate, whatever the worker count, who
 * computes which chunk and how big the chunks are. evaluate's loss is then
 * averaged here over batches of `batchSize`, in order, as model.evaluate does.
 */
import { netOf, type HasNet, type Net } from '../engine/net.js';
import type { Dataset, Evaluation, PredictInput } from '../engine/types.js';
import { modelInput } from '../input.js';
import { checkWorkers, WorkerGroup, type CreateWorker } from './group.js';
import { pack } from './pack.js';
import { C, CMD, inferBytes, inferViews, modelSpec, type InferSizes, type InferViews } from './layout.js';
import type { InferWorkerInit } from './infer-worker.js';

/**
 * Examples a worker takes at a time (fewer when batchSize is smaller). Small
 * enough that the last chunks of a call leave little for one worker alone,
 * large enough that taking a chunk costs little beside computing it (the
 * chunk sizes measured are in "Tuning constants", docs/benchmarks.md).
 */
export const INFER_CHUNK = 64;

/** Options of {@link InferencePool.create}. */
export interface InferencePoolOptions {
  /** Worker threads (default 2). */
  workers?: number;
  /** As predict/evaluate's batchSize (default 256): evaluate's losses are averaged over batches of this many. */
  batchSize?: number;
  /** Examples one round trip holds; larger inputs go in several (default 16,384). */
  capacity?: number;
  /** In a browser: makes the Web Workers (see {@link CreateWorker}). */
  createWorker?: CreateWorker;
}

export class InferencePool {
  private group!: WorkerGroup;
  private readonly v: InferViews;
  private copiedRevision = -1;
  /** The call in progress: the shared regions hold one call's inputs and outputs, so calls take turns. */
  private turn: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  private constructor(private readonly model: Net, sab: SharedArrayBuffer, private readonly s: InferSizes) {
    this.v = inferViews(sab, s);
  }

  /** Starts the workers, each with its own copy of `model` (its weights are copied again at every call). */
  static async create(of: HasNet, o: InferencePoolOptions = {}): Promise<InferencePool> {
    const model = netOf(of);
    if (typeof o !== 'object' || o === null) throw new Error('inference pool: options must be an object such as { workers: 2 }');
    const asked = checkWorkers(o.workers ?? 2, 'inference pool'), batchSize = o.batchSize ?? 256;
    for (const [k, v] of [['batchSize', batchSize], ['capacity', o.capacity ?? 1]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`inference pool: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    const be = model.backend;
    if (!be.module) throw new Error('inference pool: workers need the compiled kernels module; initBackend() from bytes, a URL or a module');
    const capacity = Math.ceil((o.capacity ?? 16_384) / batchSize) * batchSize;
    if (capacity * Math.max(model.inputSize * 4, model.classes * 4) > 2 ** 31) {
      throw new Error(`inference pool: a capacity of ${capacity.toLocaleString('en-US')} examples of ${model.inputSize.toLocaleString('en-US')} values needs more than 2 GiB of shared memory; choose a smaller one`);
    }
    // As fit starts no more workers than a batch has leaves: no more than a round has chunks.
    const workers = Math.min(asked, Math.ceil(capacity / Math.min(batchSize, INFER_CHUNK)));
    const s: InferSizes = {
      workers, capacity, chunk: Math.min(batchSize, INFER_CHUNK), batchSize, inputSize: model.inputSize, classes: model.classes,
      params: model.params().reduce((t, p) => t + p.value.length, 0),
    };
    const sab = new SharedArrayBuffer(inferBytes(s));
    const pool = new InferencePool(model, sab, s);
    const inits: InferWorkerInit[] = Array.from({ length: workers }, (_, index) => ({ index, sab, sizes: s, backend: be.name, module: be.module!, model: modelSpec(model) }));
    pool.group = await WorkerGroup.start('infer-worker', inits, pool.v.ctrl, 'inference pool', o.createWorker);
    return pool;
  }

  /** Runs one round: `n` examples already in the input region. */
  private async round(n: number, float: boolean, evaluate: boolean): Promise<void> {
    const v = this.v;
    // The weights go over when they changed (the workers then fold batch norm again).
    if (this.copiedRevision !== this.model.weightsRevision) {
      pack(v.params, this.model.params().map((p) => p.value));
      this.copiedRevision = this.model.weightsRevision;
      Atomics.add(v.ctrl, C.PARAMS_VERSION, 1);
    }
    Atomics.store(v.ctrl, C.N, n);
    Atomics.store(v.ctrl, C.CHUNK, this.s.chunk);
    Atomics.store(v.ctrl, C.FLOAT, float ? 1 : 0);
    Atomics.store(v.ctrl, C.EVALUATE, evaluate ? 1 : 0);
    Atomics.store(v.ctrl, C.NEXT_CHUNK, 0);
    this.group.run(CMD.INFER);
    await this.group.wait();
  }

  /** Runs `fn` after the calls before it have ended (concurrent calls are queued, in call order). */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Workers the pool runs (at most one per chunk a round holds). */
  get size(): number {
    return this.s.workers;
  }

  /**
   * The same as model.predict(images, { batchSize }), computed by the workers.
   * Concurrent calls are queued: each gets its own answer.
   */
  predict(input: PredictInput): Promise<Float32Array> {
    const images = modelInput(input, this.model.inputShape, 'predict');
    // A call that must wait works on a copy: the caller may reuse its array once predict returns.
    const mine = this.waiting++ > 0 ? images.slice() : images;
    return this.inTurn(() => this.predictNow(mine)).finally(() => { this.waiting--; });
  }

  private async predictNow(images: Uint8Array | Float32Array): Promise<Float32Array> {
    const size = this.s.inputSize, k = this.s.classes;
    if (images.length === 0 || images.length % size !== 0) throw new Error(`predict: ${images.length} values is not a whole number of examples of ${size} values`);
    const count = images.length / size, out = new Float32Array(count * k);
    const float = images instanceof Float32Array;
    for (let from = 0; from < count; from += this.s.capacity) {
      const n = Math.min(this.s.capacity, count - from);
      const part = images.subarray(from * size, (from + n) * size);
      if (float) this.v.inputF32.set(part);
      else this.v.inputU8.set(part);
      await this.round(n, float, false);
      out.set(this.v.outputs.subarray(0, n * k), from * k);
    }
    return out;
  }

  /** The same as model.evaluate(data, { batchSize }), computed by the workers (concurrent calls are queued). */
  evaluate(d: Dataset): Promise<Evaluation> {
    const data = this.model.checkDataset(d, 'evaluate data');
    return this.inTurn(() => this.evaluateNow(data));
  }

  private async evaluateNow(data: Dataset): Promise<Evaluation> {
    const size = this.s.inputSize, float = data.images instanceof Float32Array;
    let lossSum = 0, correct = 0;
    for (let from = 0; from < data.count; from += this.s.capacity) {
      const n = Math.min(this.s.capacity, data.count - from);
      const part = (data.images as Uint8Array | Float32Array).subarray(from * size, (from + n) * size);
      if (float) this.v.inputF32.set(part);
      else this.v.inputU8.set(part);
      await this.round(n, float, true);
      // Batch by batch in order, as evaluate adds them (a round holds whole batches).
      const k = this.s.classes, bs = this.s.batchSize;
      for (let f = 0; f < n; f += bs) {
        const m = Math.min(bs, n - f);
        const r = this.model.scoreLogits(this.v.outputs.subarray(f * k, (f + m) * k), data.labels, from + f, m);
        correct += r.correct;
        lossSum += r.loss * m;
      }
    }
    return { loss: lossSum / data.count, accuracy: correct / data.count };
  }

  /** Workers still running. */
  get liveWorkers(): number {
    return this.group.liveWorkers;
  }

  /** Ends the workers. Idempotent. */
  dispose(): Promise<void> {
    return this.group.dispose();
  }
}

/** Starts an {@link InferencePool} for `model`. */
export function createInferencePool(model: HasNet, o: InferencePoolOptions = {}): Promise<InferencePool> {
  return InferencePool.create(model, o);
}
