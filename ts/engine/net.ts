/**
 * The training engine under a model: a stack of layers ending in logits,
 * trained with softmax cross-entropy, and the buffers staged for it. Shapes
 * are inferred at construction; activations, gradients and parameters stay
 * in wasm memory; each training step reuses the same buffers (grown only for
 * a larger batch). It runs training forward/backward over a shard of a step
 * (layers/step.ts), a whole step on this thread, and inference (plain, or
 * with batch norm folded and relus fused). It knows no threads, no files and
 * no training loop: the model (model.ts) is the Keras-style surface over it,
 * train/ drives its steps and parallel/ builds one per worker.
 */
import { getBackend, type Backend } from '../backend/load.js';
import { BufferPool, type F32Buffer, type I32Buffer } from '../backend/memory.js';
import { meanOfRows, softmax, softmaxCrossEntropy, softmaxCrossEntropyRows } from '../kernels/loss.js';
import { pairwiseRows } from '../kernels/norm.js';
import { leafCount, wholeBatch, type StepShard } from '../layers/step.js';
import { buildPlan, freePlan, type PlanStep } from '../inference/fold.js';
import { checkBatchSize, checkImages, modelInput } from '../input.js';
import { fmtShape, type Layer, type Param, type Shape } from '../layers/layer.js';
import { Dropout } from '../layers/simple.js';
import { Rng } from '../rng.js';
import { argmax } from './argmax.js';
import { augmentInto, type Augment } from '../data/augment.js';
import { channelStats, MNIST_NORMALIZATION, type Dataset, type Evaluation, type LayerStats, type Normalization, type PredictInput, type SequentialOptions, type WeightTensor, type WeightTensorInput } from './types.js';

/** Augmentation of a staged batch: what to do, the step's seed, and the first staged image's place in the step's batch. */
export interface StagedAugment {
  spec: Augment;
  stepSeed: number;
  first: number;
}

export class Net {
  readonly layers: Layer[];
  readonly inputShape: Shape;
  readonly backend: Backend;
  readonly seed: number;
  readonly classes: number;
  normalization: Normalization;
  /**
   * Whether inference folds each batch norm into the conv/dense layer before
   * it and fuses the relu (and, after LeNet-like first convs, the 2x2 max
   * pooling) into that layer's kernel: one pass per conv/dense layer, the
   * same results to float rounding (about 1e-7 on probabilities). Default
   * true; training is never folded. False runs every layer on its own.
   */
  foldBatchNorm = true;
  /** Set while a `predict(.., { layerOutputs: true })` runs. */
  private unfused = false;
  /** When set, receives the time of each layer's forward/backward and of the optimiser step (profiling). */
  profiler: ((layer: string, phase: 'forward' | 'backward' | 'update', ms: number) => void) | null = null;
  private lut = new Float32Array(256);
  /** Staged inputs, u8 pixels (viewed as bytes), labels, logits, their gradients, row losses and probabilities, by name. */
  private readonly bufs: BufferPool;
  /** The normalisation table in wasm memory. */
  private lutBuf: F32Buffer | null = null;
  private firstParamLayer: number;
  private lastBatch = 0;
  private isDisposed = false;
  private weightsVersion = 0;
  private plan: { version: number; steps: PlanStep[] } | null = null;

  constructor(layers: Layer[], o: SequentialOptions) {
    if (layers.length === 0) throw new Error('sequential: needs at least one layer');
    if (!Array.isArray(o.inputShape) || o.inputShape.length === 0 || !o.inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new Error(`sequential: inputShape must be positive integers like [1, 28, 28], got ${JSON.stringify(o.inputShape)}`);
    }
    this.backend = o.backend ?? getBackend();
    this.bufs = new BufferPool(() => this.backend.heap);
    this.layers = layers;
    this.inputShape = [...o.inputShape];
    this.seed = o.seed ?? 0;
    this.classes = o.classes ?? 10;
    this.normalization = o.normalization ?? MNIST_NORMALIZATION;
    this.setNormalization(this.normalization);
    const counts = new Map<string, number>();
    const names = new Set<string>();
    for (const l of layers) {
      if (!l.name) {
        const k = (counts.get(l.kind) ?? 0) + 1;
        counts.set(l.kind, k);
        l.name = `${l.kind}_${k}`;
      }
      if (names.has(l.name)) throw new Error(`sequential: two layers are named '${l.name}'`);
      names.add(l.name);
    }
    const rng = new Rng(this.seed);
    let shape = this.inputShape;
    layers.forEach((l, i) => {
      if (l instanceof Dropout) l.index = i;
      shape = l.build(shape, { backend: this.backend, rng, paramBudget: o.paramBudget });
    });
    if (shape.length !== 1 || shape[0] !== this.classes) {
      throw new Error(`sequential: the last layer '${layers[layers.length - 1].name}' outputs ${fmtShape(shape)}, expected (${this.classes}) logits — end with dense({ units: ${this.classes} })`);
    }
    this.firstParamLayer = layers.findIndex((l) => l.params().some((p) => p.grad));
  }

  /** Changes how u8 pixels are normalised (one mean and std, or one per channel). */
  setNormalization(n: Normalization): void {
    const c = this.inputShape[0];
    const perChannel = typeof n.mean !== 'number' || typeof n.std !== 'number';
    // A number, or an array of one per channel: its values, else null.
    const list = (v: unknown) => (typeof v === 'number' ? [v] : Array.isArray(v) && v.length === c ? (v as unknown[]) : null);
    const mean = list(n?.mean), std = list(n?.std);
    if (!mean || !std || ![n.scale, ...mean, ...std].every((v) => typeof v === 'number' && Number.isFinite(v)) || std.includes(0)) {
      throw new Error(`normalization: scale, mean and std must be finite (mean and std numbers, or one per channel: ${c}) and std non-zero, got ${JSON.stringify(n)}`);
    }
    this.normalization = { scale: n.scale, mean: typeof n.mean === 'number' ? n.mean : [...n.mean], std: typeof n.std === 'number' ? n.std : [...n.std] };
    // One table of 256 values, or one per channel (planes normalised in turn).
    const lut = new Float32Array(256 * (perChannel ? c : 1));
    for (let ch = 0; ch < (perChannel ? c : 1); ch++) {
      const { mean, std } = channelStats(this.normalization, ch);
      for (let v = 0; v < 256; v++) lut[ch * 256 + v] = (v * n.scale - mean) / std;
    }
    this.lut = lut;
    if (this.lutBuf && this.lutBuf.length !== lut.length) {
      this.lutBuf.free();
      this.lutBuf = null;
    }
    this.lutBuf?.set(this.lut);
  }

  /** Values in one example. */
  get inputSize(): number {
    return this.inputShape.reduce((a, b) => a * b, 1);
  }

  /** Every parameter and statistic tensor, in model-file order. */
  params(): Param[] {
    return this.layers.flatMap((l) => l.params());
  }

  /**
   * Copies of every parameter and statistic, in model-file order: conv
   * kernels [filters, channels, kh, kw] (PyTorch's Conv2d.weight layout),
   * dense kernels [in, out] (PyTorch's Linear.weight transposed), biases,
   * batch norm's gamma, beta, runningMean, runningVar.
   */
  getWeights(): WeightTensor[] {
    this.checkAlive();
    return this.params().map((p) => ({ name: p.name, shape: [...p.shape], values: p.value.toArray() as Float32Array }));
  }

  /**
   * Sets some or all tensors from a list of {name, values, shape?} or a record
   * name -> values (a Float32Array or plain numbers). Each name must be one of
   * getWeights()'s, each length (and shape, when given) must match, and every
   * value must be finite; nothing is written unless all are right.
   */
  setWeights(weights: readonly WeightTensorInput[] | Record<string, ArrayLike<number>>): void {
    this.checkAlive();
    const list: WeightTensorInput[] = Array.isArray(weights) ? [...weights] : Object.entries(weights).map(([name, values]) => ({ name, values }));
    const byName = new Map(this.params().map((p) => [p.name, p]));
    const checked = list.map((w) => {
      const p = byName.get(w?.name);
      if (!p) throw new Error(`setWeights: no tensor named ${JSON.stringify(w?.name)} (the model's: ${[...byName.keys()].join(', ')})`);
      if (w.shape !== undefined && fmtShape(w.shape) !== fmtShape(p.shape)) throw new Error(`setWeights: ${p.name} has shape ${fmtShape(p.shape)}, got ${fmtShape(w.shape)}`);
      const v = w.values;
      if (!v || typeof v.length !== 'number' || v.length !== p.value.length) throw new Error(`setWeights: ${p.name} ${fmtShape(p.shape)} takes ${p.value.length} values, got ${v?.length ?? 'none'}`);
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new Error(`setWeights: ${p.name} value ${v[i]} at index ${i} is not finite`);
      return [p, v] as const;
    });
    for (const [p, v] of checked) p.value.view.set(v);
    this.weightsChanged();
  }

  /** Number of trainable values. */
  get trainableCount(): number {
    return this.params().filter((p) => p.grad).reduce((s, p) => s + p.value.length, 0);
  }

  /** A Keras-like table: layer, output shape, parameter count. */
  summary(): string {
    const rows = this.layers.map((l) => [`${l.name} (${l.kind})`, `(None, ${l.outputShape.join(', ')})`, String(l.params().reduce((s, p) => s + p.value.length, 0))]);
    const head = ['Layer (type)', 'Output shape', 'Param #'];
    const w = [0, 1, 2].map((i) => Math.max(head[i].length, ...rows.map((r) => r[i].length)) + 2);
    const line = (r: string[]) => r[0].padEnd(w[0]) + r[1].padEnd(w[1]) + r[2].padStart(w[2]);
    const total = this.params().reduce((s, p) => s + p.value.length, 0);
    const trainable = this.trainableCount;
    const sep = '='.repeat(w[0] + w[1] + w[2]);
    return [
      `Model: sequential, input ${fmtShape(this.inputShape)}, backend ${this.backend.name}`,
      sep, line(head), sep, ...rows.map(line), sep,
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
    ].join('\n');
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Throws if the engine was disposed. */
  checkAlive(): void {
    if (this.isDisposed) throw new Error('model: used after dispose()');
  }

  private stage(n: number): F32Buffer {
    const need = n * this.inputSize;
    return this.bufs.f32('x', need);
  }

  /** Copies examples idx[from..from+n) (or from..from+n when idx is null) into wasm memory, normalised. */
  private loadBatch(data: Dataset, idx: ArrayLike<number> | null, from: number, n: number, withLabels: boolean, aug?: StagedAugment): F32Buffer {
    const size = this.inputSize;
    const x = this.stage(n);
    const imgs = data.images as Uint8Array | Float32Array; // checkDataset / checkImages made it so
    if (imgs instanceof Uint8Array) {
      // Copy the bytes into wasm memory, then normalise there through the table.
      const bytes = n * size;
      const pixels = this.bufs.i32('pixels', Math.ceil(bytes / 4));
      if (!this.lutBuf) this.lutBuf = this.backend.heap.from(this.lut);
      const pv = new Uint8Array(this.backend.heap.memory.buffer, pixels.ptr, bytes); // after the last allocation
      for (let b = 0; b < n; b++) {
        const e = idx ? idx[from + b] : from + b;
        if (aug) augmentInto(pv.subarray(b * size, (b + 1) * size), imgs.subarray(e * size, (e + 1) * size), this.inputShape, aug.spec, aug.stepSeed, aug.first + b);
        else pv.set(imgs.subarray(e * size, (e + 1) * size), b * size);
      }
      if (this.lut.length === 256) this.backend.k.lut_u8(pixels.ptr, this.lutBuf.ptr, x.ptr, bytes);
      else {
        const plane = size / this.inputShape[0];
        for (let at = 0; at < bytes; at += plane) {
          const ch = (at / plane) % this.inputShape[0];
          this.backend.k.lut_u8(pixels.ptr + at, this.lutBuf.ptr + ch * 256 * 4, x.ptr + at * 4, plane);
        }
      }
    } else {
      const xv = x.view;
      for (let b = 0; b < n; b++) {
        const e = idx ? idx[from + b] : from + b;
        xv.set(imgs.subarray(e * size, (e + 1) * size), b * size);
      }
    }
    if (withLabels) this.stageLabels(data.labels, idx, from, n);
    return x;
  }

  /** Copies labels[idx[from..from+n)] (or labels[from..from+n)) into wasm memory. */
  private stageLabels(labels: ArrayLike<number>, idx: ArrayLike<number> | null, from: number, n: number): void {
    const lv = this.bufs.i32('labels', n).view;
    for (let b = 0; b < n; b++) lv[b] = labels[idx ? idx[from + b] : from + b];
  }

  /** Stages examples idx[from..from+n) (or from..) and their labels in wasm memory; returns the input buffer. */
  stageBatch(data: Dataset, idx: ArrayLike<number> | null, from: number, n: number, aug?: StagedAugment): F32Buffer {
    if (aug && !(data.images instanceof Uint8Array)) throw new Error('fit: augment transforms u8 pixels; these images are a Float32Array');
    return this.loadBatch(data, idx, from, n, true, aug);
  }

  /** Validates a data set against the input shape and classes. */
  checkDataset(d: Dataset, what = 'data'): Dataset {
    const size = this.inputSize;
    if (typeof d !== 'object' || d === null) throw new Error(`${what}: expected { images, labels, count }, got ${d === null ? 'null' : typeof d}`);
    if (!Number.isInteger(d.count) || d.count < 1) throw new Error(`${what}: count must be a positive integer, got ${d.count}`);
    const images = checkImages(d.images, what);
    if (d.labels === null || typeof d.labels !== 'object' || typeof d.labels.length !== 'number') throw new Error(`${what}: labels must be an array of class indices`);
    if (images.length !== d.count * size) {
      throw new Error(`${what}: ${images.length} pixel values for ${d.count} examples of shape ${fmtShape(this.inputShape)} (expected ${d.count * size})`);
    }
    if (d.labels.length < d.count) throw new Error(`${what}: ${d.labels.length} labels for ${d.count} examples`);
    for (let i = 0; i < d.count; i++) {
      const l = d.labels[i];
      if (!Number.isInteger(l) || l < 0 || l >= this.classes) throw new Error(`${what}: label ${l} at index ${i} is outside 0..${this.classes - 1}`);
    }
    return images === d.images ? d : { images, labels: d.labels, count: d.count };
  }

  /** Forward pass over n staged examples; returns the logits buffer [n, classes]. */
  forwardBuffer(x: F32Buffer, n: number, training: boolean, stepSeed = 0, shard?: StepShard): F32Buffer {
    this.checkAlive();
    if (training) this.weightsChanged(); // batch norm's running statistics move
    else if (this.foldBatchNorm && !this.profiler && !this.unfused) return this.inferFolded(x, n);
    let h = x;
    const ctx = { training, stepSeed, shard: training ? shard ?? wholeBatch(this.backend, n) : undefined };
    const prof = this.profiler;
    for (const l of this.layers) {
      const t0 = prof ? performance.now() : 0;
      const input = h;
      h = l.forward(h, n, ctx);
      l.outputStale = h === input; // passed its input on: any 'y' it holds is older
      if (prof) prof(l.name, 'forward', performance.now() - t0);
    }
    this.lastBatch = n;
    return h;
  }

  /**
   * Tells the model its weights changed outside fit (e.g. values written into
   * its parameters), so inference folds batch norm again. fit, loading and the
   * optimiser's steps call it themselves.
   */
  weightsChanged(): void {
    this.weightsVersion++;
  }

  /** How many times the weights changed (inference pools copy them when it moves). */
  get weightsRevision(): number {
    return this.weightsVersion;
  }

  /** The inference plan for the current weights (rebuilt when they changed). */
  private currentPlan(): PlanStep[] {
    if (!this.plan || this.plan.version !== this.weightsVersion) {
      if (this.plan) freePlan(this.plan.steps);
      this.plan = { version: this.weightsVersion, steps: buildPlan(this.layers, this.backend) };
    }
    return this.plan.steps;
  }

  /**
   * The passes `predict` makes, each naming the layers it covers
   * (`conv2d+batchNormalization+relu`: one kernel call with folded weights and
   * the relu in its epilogue).
   */
  inferencePasses(): string[] {
    let i = 0;
    return this.currentPlan().map((s) => {
      const covers = 'covers' in s ? s.covers : 1;
      const kinds = this.layers.slice(i, i + covers).map((l) => l.kind);
      i += covers;
      return kinds.join('+');
    });
  }

  /** The inference pass with batch norm folded and relus fused (rebuilt when the weights changed). */
  private inferFolded(x: F32Buffer, n: number): F32Buffer {
    let h = x, i = 0;
    const ctx = { training: false, stepSeed: 0 };
    for (const s of this.currentPlan()) {
      const covers = 'covers' in s ? s.covers : 1;
      // A fused step computes none of its layers' own outputs.
      const input = h;
      h = 'kernel' in s ? s.layer.inferWith(h, n, s.kernel, s.bias, s.relu, s.pool2) : s.layer.forward(h, n, ctx);
      for (let j = i; j < i + covers; j++) this.layers[j].outputStale = covers > 1 || h === input;
      i += covers;
    }
    this.lastBatch = n;
    return h;
  }

  /** Backward from dlogits through every layer: leaf gradients (and batch norm's whole ones). */
  private backwardBuffer(dlogits: F32Buffer, n: number, shard: StepShard): void {
    let g: F32Buffer | null = dlogits;
    const prof = this.profiler;
    const ctx = { shard };
    for (let i = this.layers.length - 1; i >= 0 && g; i--) {
      const t0 = prof ? performance.now() : 0;
      g = this.layers[i].backward(g, n, i > this.firstParamLayer, ctx);
      if (prof) prof(this.layers[i].name, 'backward', performance.now() - t0);
      shard.layerDone?.(this.layers[i]);
    }
  }

  /**
   * One shard of a training step on n staged examples (labels staged
   * too): forward, per-row losses, backward. Weight gradients are left per
   * leaf in each parameter's `leafGrads`. Returns the rows' losses (valid until
   * the next call) and how many were classified correctly.
   */
  shardStep(x: F32Buffer, n: number, shard: StepShard, stepSeed: number): { losses: Float32Array; correct: number } {
    const logits = this.forwardBuffer(x, n, true, stepSeed, shard);
    const correct = this.correct(logits, n);
    const k = this.classes;
    const dlogits = this.bufs.f32('dlogits', n * k), lossRows = this.bufs.f32('lossRows', n);
    softmaxCrossEntropyRows(this.backend, logits, this.labels, dlogits, lossRows, n, k, shard.batchSize);
    this.backwardBuffer(dlogits, n, shard);
    return { losses: lossRows.view.subarray(0, n), correct };
  }

  /** The parameters whose gradients are combined over leaves, in model order. */
  leafParams(): Param[] {
    return this.layers.flatMap((l) => l.leafParams());
  }

  /** Combines the leaves' gradients of the whole batch (all local) into each parameter's grad. */
  private combineLeafGradients(leaves: number): void {
    for (const p of this.leafParams()) {
      const size = p.value.length;
      pairwiseRows(this.backend, p.leafGrads!.sub(0, leaves * size), leaves, size, p.grad!);
    }
  }

  /** Forward and backward of a whole batch in this thread (one shard, its leaves combined); returns its mean loss and correct count. */
  localStep(x: F32Buffer, n: number, stepSeed: number): { loss: number; correct: number } {
    const r = this.shardStep(x, n, wholeBatch(this.backend, n), stepSeed);
    const loss = meanOfRows(r.losses, n);
    this.combineLeafGradients(leafCount(n));
    return { loss, correct: r.correct };
  }

  /** Mean loss of the staged batch; writes dlogits. */
  private lossAndGrad(logits: F32Buffer, n: number): number {
    const k = this.classes;
    return softmaxCrossEntropy(this.backend, logits, this.labels, this.bufs.f32('dlogits', n * k), n, k);
  }

  /** The staged labels. */
  private get labels(): I32Buffer {
    return this.bufs.i32('labels', 0);
  }

  private correct(logits: F32Buffer, n: number): number {
    const k = this.classes;
    const z = logits.view, lv = this.labels.view;
    let c = 0;
    for (let r = 0; r < n; r++) if (argmax(z, r * k, k) === lv[r]) c++;
    return c;
  }

  /**
   * Training-mode forward and backward on examples from..from+n of `data`
   * without updating anything but the gradients (and batch-norm running
   * statistics). Returns the mean loss. Used by gradient checks and tests.
   */
  computeGradients(data: Dataset, from: number, n: number, stepSeed = 0): number {
    this.checkAlive();
    return this.localStep(this.loadBatch(data, null, from, n, true), n, stepSeed).loss;
  }

  /** Training-mode loss on examples from..from+n (same dropout masks for the same stepSeed). */
  trainingLoss(data: Dataset, from: number, n: number, stepSeed = 0): number {
    this.checkAlive();
    const logits = this.forwardBuffer(this.loadBatch(data, null, from, n, true), n, true, stepSeed);
    const k = this.classes;
    const scratch = this.backend.heap.alloc(n * k), rows = this.backend.heap.alloc(n);
    try {
      softmaxCrossEntropyRows(this.backend, logits, this.labels, scratch, rows, n, k, n);
      return meanOfRows(rows.view, n);
    } finally {
      scratch.free();
      rows.free();
    }
  }

  /** The name of the first parameter tensor holding a NaN or infinity, or null. */
  firstNonFiniteParam(): string | null {
    for (const p of this.params()) {
      const v = p.value.view;
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return p.name;
    }
    return null;
  }

  /** Mean loss and accuracy over a data set (inference mode). */
  evaluate(data: Dataset, o: { batchSize?: number } = {}): Evaluation {
    this.checkAlive();
    data = this.checkDataset(data, 'evaluate data');
    const bs = checkBatchSize(o.batchSize ?? 256, 'evaluate');
    let lossSum = 0, correct = 0;
    for (let from = 0; from < data.count; from += bs) {
      const n = Math.min(bs, data.count - from);
      const r = this.evaluateChunk(data, from, n);
      correct += r.correct;
      lossSum += r.loss * n;
    }
    return { loss: lossSum / data.count, accuracy: correct / data.count };
  }

  /** Inference on examples from..from+n: their mean loss (f32) and how many are right. */
  evaluateChunk(data: Dataset, from: number, n: number): { loss: number; correct: number } {
    const logits = this.forwardBuffer(this.loadBatch(data, null, from, n, true), n, false);
    return { correct: this.correct(logits, n), loss: this.lossAndGrad(logits, n) };
  }

  /** Inference logits of examples from..from+n (a view of wasm memory, valid until the next call). */
  logitsChunk(data: Dataset, from: number, n: number): Float32Array {
    return this.forwardBuffer(this.loadBatch(data, null, from, n, false), n, false).view.subarray(0, n * this.classes);
  }

  /**
   * evaluateChunk's result from the logits [n, classes] of examples
   * with labels[from..from+n), computed elsewhere (by inference workers).
   */
  scoreLogits(logits: Float32Array, labels: ArrayLike<number>, from: number, n: number): { loss: number; correct: number } {
    const k = this.classes;
    this.stageLabels(labels, null, from, n);
    const buf = this.bufs.f32('logits', n * k).sub(0, n * k);
    buf.view.set(logits.subarray(0, n * k));
    return { correct: this.correct(buf, n), loss: this.lossAndGrad(buf, n) };
  }

  /** Class probabilities of examples from..from+n of `data` (a view of wasm memory, valid until the next call). */
  predictChunk(data: Dataset, from: number, n: number): Float32Array {
    const k = this.classes;
    const logits = this.forwardBuffer(this.loadBatch(data, null, from, n, false), n, false);
    const probs = this.bufs.f32('probs', n * k);
    softmax(this.backend, logits, probs, n, k);
    return probs.view.subarray(0, n * k);
  }

  /**
   * Class probabilities for `count` examples (u8 pixels are normalised, f32 used
   * as given). Returns a new Float32Array [count, classes]. With `layerOutputs`,
   * every layer runs on its own (no folding or fusion; probabilities within
   * about 1e-6 of the fused pass, the same classes), so each layer's
   * `lastOutput()` and `activationStats()` describe this call; without it a
   * layer fused into another has no output of its own (lastOutput() is null).
   */
  predict(input: PredictInput, o: { batchSize?: number; layerOutputs?: boolean } = {}): Float32Array {
    this.checkAlive();
    if (o.layerOutputs !== undefined && typeof o.layerOutputs !== 'boolean') throw new Error(`predict: layerOutputs must be true or false, got ${JSON.stringify(o.layerOutputs)}`);
    if (o.layerOutputs) {
      this.unfused = true;
      try {
        return this.predict(input, { ...o, layerOutputs: false });
      } finally {
        this.unfused = false;
      }
    }
    const images = modelInput(input, this.inputShape, 'predict');
    const size = this.inputSize;
    if (images.length === 0 || images.length % size !== 0) {
      throw new Error(`predict: ${images.length} values is not a whole number of examples of shape ${fmtShape(this.inputShape)} (${size} values each)`);
    }
    const count = images.length / size, k = this.classes, bs = checkBatchSize(o.batchSize ?? 256, 'predict');
    const out = new Float32Array(count * k);
    const data: Dataset = { images, labels: [], count };
    for (let from = 0; from < count; from += bs) {
      const n = Math.min(bs, count - from);
      out.set(this.predictChunk(data, from, n), from * k);
    }
    return out;
  }

  /** The most probable class of each example. */
  predictClass(images: PredictInput): Int32Array {
    const p = this.predict(images), k = this.classes;
    const out = new Int32Array(p.length / k);
    for (let r = 0; r < out.length; r++) out[r] = argmax(p, r * k, k);
    return out;
  }

  /** Per-layer max |activation| and zero fraction over the last forward batch. */
  activationStats(): LayerStats[] {
    const n = this.lastBatch;
    return this.layers.flatMap((l) => {
      const y = l.lastOutput();
      if (!y || n === 0) return [];
      const v = y.view.subarray(0, n * l.outputSize);
      let mx = 0, zeros = 0;
      for (let i = 0; i < v.length; i++) {
        const a = Math.abs(v[i]);
        if (a > mx) mx = a;
        if (v[i] === 0) zeros++;
      }
      return [{ layer: l.name, kind: l.kind, maxAbs: mx, zeroFraction: zeros / v.length }];
    });
  }

  /** Frees all wasm memory of the model; it cannot be used afterwards. Idempotent. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const l of this.layers) l.dispose();
    if (this.plan) freePlan(this.plan.steps);
    this.bufs.free();
    this.lutBuf?.free();
  }
}

/** An engine, or what has one (a Sequential): what pools, exports and checks take. */
export type HasNet = Net | { readonly net: Net };

/** The engine of `m`. */
export function netOf(m: HasNet): Net {
  return m instanceof Net ? m : m.net;
}
