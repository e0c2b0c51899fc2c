/**
 * Inference on worker threads (Node) or Web Workers: a pool that splits a
 * large predict or evaluate into chunks of `batchSize` examples, which the
 * workers take one at a time (a worker on a busier or slower core takes
 * fewer). Each chunk is computed exactly as the model's own predict/evaluate
 * computes it, so the results are the same bits, whatever the worker count
 * and whoever computes which chunk.
 */
import type { Dataset, Evaluation, Images, Sequential } from '../model.js';
import { checkImages } from '../model.js';
import { WorkerGroup, type CreateWorker } from './group.js';
import { C, CMD, FAULTS, inferBytes, inferViews, modelSpec, type InferSizes, type InferViews } from './protocol.js';
import type { InferWorkerInit } from './infer-worker.js';

/** Options of {@link InferencePool.create}. */
export interface InferencePoolOptions {
  /** Worker threads (default 2). */
  workers?: number;
  /** Examples per chunk, as predict/evaluate's batchSize (default 256). */
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

  private constructor(private readonly model: Sequential, sab: SharedArrayBuffer, private readonly s: InferSizes) {
    this.v = inferViews(sab, s);
  }

  /** Starts the workers, each with its own copy of `model` (its weights are copied again at every call). */
  static async create(model: Sequential, o: InferencePoolOptions = {}): Promise<InferencePool> {
    const workers = o.workers ?? 2, chunk = o.batchSize ?? 256;
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`inference pool: workers must be a positive integer, got ${workers}`);
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`inference pool: batchSize must be a positive integer, got ${chunk}`);
    const be = model.backend;
    if (!be.module) throw new Error('inference pool: workers need the compiled kernels module; initBackend() from bytes, a URL or a module');
    const capacity = Math.ceil((o.capacity ?? 16_384) / chunk) * chunk;
    const s: InferSizes = {
      workers, capacity, chunk, inputSize: model.inputSize, classes: model.classes,
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
      let at = 0;
      for (const p of this.model.params()) {
        v.params.set(p.value.view, at);
        at += p.value.length;
      }
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

  /** The same as model.predict(images, { batchSize }), computed by the workers. */
  async predict(input: Images): Promise<Float32Array> {
    const images = checkImages(input, 'predict');
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
      out.set(this.v.probs.subarray(0, n * k), from * k);
    }
    return out;
  }

  /** The same as model.evaluate(data, { batchSize }), computed by the workers. */
  async evaluate(d: Dataset): Promise<Evaluation> {
    const data = this.model.checkDataset(d, 'evaluate data');
    const size = this.s.inputSize, float = data.images instanceof Float32Array;
    let lossSum = 0, correct = 0;
    for (let from = 0; from < data.count; from += this.s.capacity) {
      const n = Math.min(this.s.capacity, data.count - from);
      const part = (data.images as Uint8Array | Float32Array).subarray(from * size, (from + n) * size);
      if (float) this.v.inputF32.set(part);
      else this.v.inputU8.set(part);
      for (let i = 0; i < n; i++) this.v.labels[i] = data.labels[from + i];
      await this.round(n, float, true);
      // Chunk by chunk in order, as evaluate adds them.
      for (let c = 0, f = 0; f < n; c++, f += this.s.chunk) {
        correct += this.v.chunkCorrect[c];
        lossSum += this.v.chunkLoss[c] * Math.min(this.s.chunk, n - f);
      }
    }
    return { loss: lossSum / data.count, accuracy: correct / data.count };
  }

  /** @internal How many chunks of the last call each worker computed (tests). */
  get lastChunks(): number[] {
    return Array.from(this.v.chunksBy);
  }

  /** @internal Makes worker i wait 20 ms before each chunk it takes (tests). */
  slowDown(i: number): void {
    Atomics.store(this.v.ctrl, C.FAULT, 4 * (i + 1) + FAULTS.indexOf('slow'));
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
export function createInferencePool(model: Sequential, o: InferencePoolOptions = {}): Promise<InferencePool> {
  return InferencePool.create(model, o);
}
