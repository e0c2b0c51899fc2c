/**
 * A batching predictor for services: concurrent `predict` calls are collected
 * into batches of at most `maxBatch`, waiting at most `maxDelayMs` for a batch
 * to fill, and each batch runs on an inference pool of worker threads, so the
 * event loop never computes. A request's probabilities are the same bits as
 * `model.predict` on the same input, whichever batch it landed in (each
 * image's forward pass does not depend on the other images of its batch).
 */
import { initBackend, type BackendChoice } from '../backend/load.js';
import { classNamesOf } from '../io/modelfile.js';
import { deserializeModel, loadModel } from '../model-file.js';
import { type PredictInput, type Sequential } from '../model.js';
import { modelInput } from '../input.js';
import { argmax } from '../engine/argmax.js';
import { InferencePool } from '../parallel/infer.js';
import type { CreateWorker } from '../parallel/group.js';
import { fitOf, type Fit } from '../image/prepare.js';

/** Options of {@link createPredictor}. */
export interface PredictorOptions {
  /** Worker threads computing the batches (default 1). */
  workers?: number;
  /** Most requests in one batch (default 64). */
  maxBatch?: number;
  /** Longest a request waits for its batch to fill, ms (default 2). */
  maxDelayMs?: number;
  /** Most requests waiting; more are refused with QueueFullError (default 4,096). */
  maxQueue?: number;
  backend?: BackendChoice;
  /** In a browser: makes the Web Workers. */
  createWorker?: CreateWorker;
}

/** One prediction. */
export interface Prediction {
  class: number;
  /** The class's name, when the model file has class names. */
  name?: string;
  probabilities: number[];
}

/** The queue is full: the caller should shed load (HTTP 503). */
export class QueueFullError extends Error {}

/** The predictor is closing or closed: the caller should retry elsewhere (HTTP 503). */
export class PredictorClosedError extends Error {}

/** Counters of a predictor. */
export interface PredictorStats {
  requests: number;
  batches: number;
  meanBatchSize: number;
  queueLength: number;
  /** Batch sizes seen: count of batches by size. */
  batchSizes: Map<number, number>;
}

interface Pending { pixels: Uint8Array | Float32Array; resolve(p: Prediction): void; reject(e: Error): void }

export class Predictor {
  private queue: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  private closing = false;
  private requests = 0;
  private batches = 0;
  private batched = 0;
  private readonly sizes = new Map<number, number>();
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;

  /**
   * How the model file says its training fitted pictures to the input
   * ('digit': MNIST's centring; 'resize'), as `cnn-wasm predict` and `serve`
   * prepare images for it (see prepareImage); undefined when the file does
   * not say (a 1x28x28 model is then taken for a digit model).
   */
  readonly fit: Fit | undefined;

  private constructor(readonly model: Sequential, private readonly pool: InferencePool, readonly classNames: string[] | null, o: PredictorOptions, fit: Fit | undefined) {
    this.fit = fit;
    this.maxBatch = o.maxBatch ?? 64;
    this.maxDelayMs = o.maxDelayMs ?? 2;
    this.maxQueue = o.maxQueue ?? 4096;
  }

  /** @internal */
  static async open(source: string | Uint8Array, o: PredictorOptions): Promise<Predictor> {
    for (const [k, v, min] of [['workers', o.workers, 1], ['maxBatch', o.maxBatch, 1], ['maxQueue', o.maxQueue, 1]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new Error(`createPredictor: ${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    if (o.maxDelayMs !== undefined && !(o.maxDelayMs >= 0 && Number.isFinite(o.maxDelayMs))) throw new Error(`createPredictor: maxDelayMs must be a number >= 0, got ${o.maxDelayMs}`);
    const backend = await initBackend({ backend: o.backend ?? 'auto' });
    // A path goes through loadModel, as every other reader of model files does (its checks and limits).
    const { model, optimizer, metadata } = typeof source === 'string'
      ? await loadModel(source, { backend })
      : deserializeModel(source, { backend, source: 'the model bytes' });
    optimizer?.dispose();
    const names = classNamesOf(metadata, model.classes);
    const workers = o.workers ?? 1, maxBatch = o.maxBatch ?? 64;
    // Chunks of at most maxBatch / workers (and INFER_CHUNK): a full batch keeps every worker busy.
    const pool = await InferencePool.create(model, { workers, batchSize: Math.max(1, Math.ceil(maxBatch / workers)), capacity: maxBatch, createWorker: o.createWorker });
    const fit = fitOf(metadata.fit);
    return new Predictor(model, pool, names, o, fit);
  }

  /** The prediction for one example (inputSize pixels: u8 0..255 or f32 as the model takes them). */
  predict(pixels: PredictInput): Promise<Prediction> {
    if (this.closing) return Promise.reject(new PredictorClosedError('predictor: closed'));
    let p: Uint8Array | Float32Array;
    try {
      p = modelInput(pixels, this.model.inputShape, 'predict', this.fit);
      if (p.length !== this.model.inputSize) throw new Error(`predict: ${p.length} values, the model takes ${this.model.inputSize} (${this.model.inputShape.join('x')})`);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError(`predictor: ${this.queue.length} requests are waiting already (maxQueue ${this.maxQueue})`));
    this.requests++;
    return new Promise<Prediction>((resolve, reject) => {
      this.queue.push({ pixels: p, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return; // the batch in flight schedules the next when it ends
    if (this.queue.length >= this.maxBatch || this.closing) {
      if (this.timer) { clearTimeout(this.timer); this.timer = null; }
      this.start();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.running) this.start();
      }, this.maxDelayMs);
    }
  }

  /** Runs the next batch; when it ends, the one after is scheduled. */
  private start(): void {
    const p = this.runBatch();
    this.running = p;
    void p.finally(() => {
      if (this.running === p) this.running = null;
      this.schedule();
    });
  }

  private async runBatch(): Promise<void> {
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      const size = this.model.inputSize, k = this.model.classes;
      // u8 and f32 requests go in separate runs (the pool takes one kind at a time).
      for (const float of [false, true]) {
        const part = batch.filter((b) => (b.pixels instanceof Float32Array) === float);
        if (part.length === 0) continue;
        const x = float ? new Float32Array(part.length * size) : new Uint8Array(part.length * size);
        part.forEach((b, i) => x.set(b.pixels as Float32Array & Uint8Array, i * size));
        let probs: Float32Array;
        try {
          probs = await this.pool.predict(x);
        } catch (e) {
          for (const b of part) b.reject(e as Error);
          continue;
        }
        part.forEach((b, i) => {
          const pr = Array.from(probs.subarray(i * k, (i + 1) * k));
          const best = argmax(pr, 0, k);
          b.resolve({ class: best, ...(this.classNames ? { name: this.classNames[best] } : {}), probabilities: pr });
        });
      }
      this.batches++;
      this.batched += batch.length;
      this.sizes.set(batch.length, (this.sizes.get(batch.length) ?? 0) + 1);
    } catch (e) {
      for (const b of batch) b.reject(e as Error);
    }
  }

  /** Requests, batches, mean batch size and queue length so far. */
  stats(): PredictorStats {
    return { requests: this.requests, batches: this.batches, meanBatchSize: this.batches ? this.batched / this.batches : 0, queueLength: this.queue.length, batchSizes: new Map(this.sizes) };
  }

  /** Finishes the queued requests, then ends the workers. Idempotent. */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.schedule();
    }
    while (this.running || this.queue.length > 0) {
      if (!this.running) this.schedule();
      await this.running;
      await Promise.resolve(); // lets start()'s finally run
    }
    await this.pool.dispose();
    this.model.dispose();
  }
}

/**
 * Opens a model file (path, Node) or its bytes and starts a batching
 * predictor: `const p = await createPredictor('digits.cnnw', { workers: 2 })`,
 * `await p.predict(pixels)`, `p.stats()`, `await p.close()`.
 */
export function createPredictor(model: string | Uint8Array, o: PredictorOptions = {}): Promise<Predictor> {
  return Predictor.open(model, o);
}
