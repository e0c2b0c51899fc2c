/**
 * Sequential: the Keras-style model a user builds, trains, evaluates, saves
 * and predicts with. It keeps the surface (construct, summary, weights,
 * predict, evaluate, fit, save, dispose) and delegates the work: the engine
 * (engine/net.ts) holds the layers and buffers and runs forward, backward and
 * inference; train/ runs fit's loop over the engine's steps; io/ writes the
 * model file from the engine's spec and tensors.
 */
import type { Backend } from './backend/load.js';
import { Net } from './engine/net.js';
import { isNode } from './env.js';
import type { Dataset, Evaluation, LayerStats, Normalization, PredictInput, SequentialOptions, WeightTensor, WeightTensorInput } from './engine/types.js';
import { toOnnx } from './interop/onnx-export.js';
import { downloadBytes, saveToIndexedDb, storageScheme } from './io/browser-storage.js';
import { encodeModelFile } from './io/modelfile.js';
import type { Layer, Param, Shape } from './layers/layer.js';
import type { Optimizer } from './optim/optimizer.js';
import { fitNet, type FitOptions, type History } from './train/fit.js';
import { trainStep } from './train/step.js';

export { checkImages } from './input.js';
export { Net } from './engine/net.js';
export { MNIST_NORMALIZATION } from './engine/types.js';
export type { Dataset, Evaluation, Images, LayerStats, Normalization, PredictInput, SequentialOptions, WeightTensor, WeightTensorInput } from './engine/types.js';
export { TrainingDivergedError } from './train/step.js';
export type { BatchLogs, Callbacks, EpochLogs, FitOptions, History } from './train/fit.js';

export class Sequential {
  /** The engine under this model: its layers, buffers, training steps and inference. Worker pools and model files build and drive engines. */
  readonly net: Net;
  /** Set to true (e.g. from a callback or a signal handler) to stop fit after the current step. */
  stopTraining = false;
  private fitting = false;

  constructor(layers: Layer[], o: SequentialOptions);
  /** A model over an engine already built (model files, ONNX import): see {@link Sequential.fromNet}. */
  constructor(net: Net);
  constructor(layers: Layer[] | Net, o?: SequentialOptions) {
    this.net = layers instanceof Net ? layers : new Net(layers, o!);
  }

  /** The model of an engine built elsewhere (a model file's, an ONNX graph's). */
  static fromNet(net: Net): Sequential {
    return new Sequential(net);
  }

  get layers(): Layer[] { return this.net.layers; }
  get inputShape(): Shape { return this.net.inputShape; }
  get backend(): Backend { return this.net.backend; }
  get seed(): number { return this.net.seed; }
  get classes(): number { return this.net.classes; }
  /** How u8 pixels become inputs (change it with setNormalization). */
  get normalization(): Normalization { return this.net.normalization; }
  /** Values in one example. */
  get inputSize(): number { return this.net.inputSize; }
  /** Number of trainable values. */
  get trainableCount(): number { return this.net.trainableCount; }

  /**
   * Whether inference folds each batch norm into the conv/dense layer before
   * it and fuses the relu (and, after LeNet-like first convs, the 2x2 max
   * pooling) into that layer's kernel: one pass per conv/dense layer, the
   * same results to float rounding (about 1e-7 on probabilities). Default
   * true; training is never folded. False runs every layer on its own.
   */
  get foldBatchNorm(): boolean { return this.net.foldBatchNorm; }
  set foldBatchNorm(v: boolean) { this.net.foldBatchNorm = v; }

  /** When set, receives the time of each layer's forward/backward and of the optimiser step (profiling). */
  get profiler(): Net['profiler'] { return this.net.profiler; }
  set profiler(p: Net['profiler']) { this.net.profiler = p; }

  /** Changes how u8 pixels are normalised. */
  setNormalization(n: Normalization): void { this.net.setNormalization(n); }

  /** Every parameter and statistic tensor, in model-file order. */
  params(): Param[] { return this.net.params(); }

  /**
   * Copies of every parameter and statistic, in model-file order: conv
   * kernels [filters, channels, kh, kw] (PyTorch's Conv2d.weight layout),
   * dense kernels [in, out] (PyTorch's Linear.weight transposed), biases,
   * batch norm's gamma, beta, runningMean, runningVar.
   */
  getWeights(): WeightTensor[] { return this.net.getWeights(); }

  /**
   * Sets some or all tensors from a list of {name, values, shape?} or a record
   * name -> values (a Float32Array or plain numbers). Each name must be one of
   * getWeights()'s, each length (and shape, when given) must match, and every
   * value must be finite; nothing is written unless all are right.
   */
  setWeights(weights: readonly WeightTensorInput[] | Record<string, ArrayLike<number>>): void { this.net.setWeights(weights); }

  /**
   * Tells the model its weights changed outside fit (e.g. values written into
   * its parameters), so inference folds batch norm again. fit, loading and the
   * optimiser's steps call it themselves.
   */
  weightsChanged(): void { this.net.weightsChanged(); }

  /**
   * The model as an ONNX file's bytes (opset 13): input `pixels` float
   * [N, C, H, W] of raw values 0..255 (normalised in the graph), output
   * `probabilities` [N, classes] (softmax in the graph). See interop/onnx-export.ts.
   */
  toOnnx(): Uint8Array {
    this.net.checkAlive();
    return toOnnx(this.net);
  }

  /** A Keras-like table: layer, output shape, parameter count. */
  summary(): string { return this.net.summary(); }

  /** Validates a data set against the input shape and classes (fit, evaluate and the pools call it). */
  checkDataset(d: Dataset, what = 'data'): Dataset { return this.net.checkDataset(d, what); }

  /**
   * One training step on examples idx[from..from+n) on this thread: forward,
   * loss, backward, optimiser update. Returns the mean loss and the number
   * classified correctly.
   */
  trainStep(data: Dataset, idx: Uint32Array | null, from: number, n: number, optimizer: Optimizer, stepSeed: number): { loss: number; correct: number } {
    return trainStep(this.net, data, idx, from, n, optimizer, stepSeed);
  }

  /**
   * Training-mode forward and backward on examples from..from+n of `data`
   * without updating anything but the gradients (and batch-norm running
   * statistics). Returns the mean loss. Used by gradient checks and tests.
   */
  computeGradients(data: Dataset, from: number, n: number, stepSeed = 0): number { return this.net.computeGradients(data, from, n, stepSeed); }

  /** Training-mode loss on examples from..from+n (same dropout masks for the same stepSeed). */
  trainingLoss(data: Dataset, from: number, n: number, stepSeed = 0): number { return this.net.trainingLoss(data, from, n, stepSeed); }

  /** Trains for `epochs` over `data`; resolves to the history (see train/fit.ts). */
  async fit(data: Dataset, o: FitOptions): Promise<History> {
    this.net.checkAlive();
    if (this.fitting) throw new Error('fit: this model is already training; wait for the running fit to finish (or set stopTraining) before starting another');
    this.fitting = true;
    try {
      return await fitNet(this.net, data, o, this);
    } finally {
      this.fitting = false;
    }
  }

  /** The name of the first parameter tensor holding a NaN or infinity, or null. */
  firstNonFiniteParam(): string | null { return this.net.firstNonFiniteParam(); }

  /** Mean loss and accuracy over a data set (inference mode). */
  evaluate(data: Dataset, o: { batchSize?: number } = {}): Evaluation { return this.net.evaluate(data, o); }

  /**
   * Class probabilities for `count` examples (u8 pixels are normalised, f32 used
   * as given, pictures prepared: see {@link PredictInput}). Returns a new
   * Float32Array [count, classes]. With `layerOutputs`, every layer runs on
   * its own (no folding or fusion; probabilities within about 1e-6 of the
   * fused pass, the same classes), so each layer's `lastOutput()` and
   * `activationStats()` describe this call; without it a layer fused into
   * another has no output of its own (lastOutput() is null).
   */
  predict(input: PredictInput, o: { batchSize?: number; layerOutputs?: boolean } = {}): Float32Array { return this.net.predict(input, o); }

  /** The most probable class of each example. */
  predictClass(images: PredictInput): Int32Array { return this.net.predictClass(images); }

  /** Per-layer max |activation| and zero fraction over the last forward batch. */
  activationStats(): LayerStats[] { return this.net.activationStats(); }

  /**
   * Saves the model file: at a file path in Node (atomic), as
   * `indexeddb://name` in a browser's IndexedDB (a transaction: the old model
   * of that name stays until the new one is written whole), or as
   * `downloads://file-name` offered to the user as a download (a page only).
   * Pass the optimizer to make a checkpoint that training can resume from.
   */
  async save(dest: string, o: { optimizer?: Optimizer; metadata?: Record<string, unknown> } = {}): Promise<void> {
    this.net.checkAlive();
    const stored = storageScheme(dest);
    const bytes = encodeModelFile(this.net, o);
    if (stored?.scheme === 'indexeddb') return saveToIndexedDb(dest, bytes);
    if (stored?.scheme === 'downloads') return downloadBytes(bytes, stored.name);
    if (!isNode) {
      throw new Error(`model.save(${JSON.stringify(dest)}): a browser saves to 'indexeddb://name' or 'downloads://file-name' (serializeModel(model) gives the bytes)`);
    }
    // A computed specifier: bundlers for the browser neither follow it nor copy
    // the file as an asset, so browser bundles never include node:fs. (io/files
    // writes bytes; it imports nothing of the model.)
    const files = './io/files.js';
    const io = (await import(/* @vite-ignore */ /* webpackIgnore: true */ new URL(/* webpackIgnore: true */ files, import.meta.url).href)) as typeof import('./io/files.js');
    io.writeFileAtomic(dest, bytes);
  }

  /** Frees all wasm memory of the model; it cannot be used afterwards (a fit in progress stops at its next step). Idempotent. */
  dispose(): void { this.net.dispose(); }
}

/** Builds a model: `sequential([conv2d(...), ...], { inputShape: [1, 28, 28] })`. */
export function sequential(layers: Layer[], o: SequentialOptions): Sequential {
  return new Sequential(layers, o);
}
