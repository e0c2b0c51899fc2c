/**
 * The layer contract. A layer is built once for an input shape (without the
 * batch dimension), then runs forward/backward over batches whose activations
 * live in wasm memory. Each layer owns its output and input-gradient buffers,
 * grown only when a larger batch arrives, so a training step allocates nothing.
 */
import type { Backend } from '../backend/load.js';
import { BufferPool, type F32Buffer, type I32Buffer } from '../backend/memory.js';
import { pairwiseRows } from '../kernels/norm.js';
import { wholeBatch, type StepShard } from './step.js';
import type { Rng } from '../rng.js';
import { makeParam, type Param } from './param.js';

export { makeParam, type Param } from './param.js';

/** A shape without the batch dimension: [C, H, W] for images, [D] for vectors. */
export type Shape = number[];

/** Context given to `build`. */
export interface BuildContext {
  backend: Backend;
  /** Initialiser randomness (seeded by the model). */
  rng: Rng;
  /**
   * When set, parameters may take at most this many values in all (decremented
   * as they are allocated): a model file's architecture cannot make the library
   * allocate more than the file's tensor data holds.
   */
  paramBudget?: { values: number; held: number; source: string };
}

/** Per-call context of a forward pass. */
export interface ForwardContext {
  training: boolean;
  /** A fresh 53-bit seed per training step (dropout streams derive from it). */
  stepSeed: number;
  /** In training: which part of the step's batch these images are (see layers/step.ts). */
  shard?: StepShard;
}

/** Per-call context of a backward pass. */
export interface BackwardContext {
  shard: StepShard;
}

/** Formats a shape for messages: [6, 28, 28] -> "(6, 28, 28)". */
export function fmtShape(s: readonly number[]): string {
  return `(${s.join(', ')})`;
}

export abstract class Layer {
  /** Unique name in the model (assigned by `sequential` when not given). */
  name: string;
  /** Kind used in configs and summaries, e.g. 'conv2d'. */
  abstract readonly kind: string;
  inputShape: Shape = [];
  outputShape: Shape = [];
  protected be!: Backend;
  private budget: BuildContext['paramBudget'] = undefined;
  private readonly pool = new BufferPool(() => this.be.heap);

  constructor(name?: string) {
    this.name = name ?? '';
  }

  /** Builds for `inputShape` (validated; errors name the layer and the shapes); returns the output shape. */
  build(inputShape: Shape, ctx: BuildContext): Shape {
    this.be = ctx.backend;
    this.budget = ctx.paramBudget;
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShape(inputShape, ctx);
    this.budget = undefined;
    return this.outputShape;
  }

  /** Allocates one of this layer's parameter tensors, within the build's budget. */
  protected param(name: string, shape: number[], trainable: boolean): Param {
    const size = shape.reduce((a, b) => a * b, 1);
    const b = this.budget;
    if (b) {
      if (size > b.values) {
        throw new Error(`layer '${this.name}' (${this.kind}) declares ${name} ${fmtShape(shape)} = ${size.toLocaleString('en-US')} values, ` +
          `far more than ${b.source} holds (${b.held.toLocaleString('en-US')} values of tensor data in all)`);
      }
      b.values -= size;
    }
    return makeParam(this.be, this.name, name, shape, trainable);
  }

  protected abstract computeOutputShape(inputShape: Shape, ctx: BuildContext): Shape;

  /** Forward over a batch of `n`: x holds n * size(inputShape) values. */
  abstract forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer;

  /**
   * Backward of the last training forward over the same `n` examples, given
   * dL/dy: returns dL/dx (or null when `needDx` is false, as for the first
   * layer). Run on its own (no `ctx`), the batch is one shard and every
   * trainable parameter's `grad` holds its complete gradient over the batch
   * afterwards: what gradient-checking one layer needs. Inside a model's step
   * (`ctx` given), the parameters of {@link leafParams} get per-leaf gradients
   * in `leafGrads` instead, which the model combines (see layers/step.ts).
   */
  abstract backward(dy: F32Buffer, n: number, needDx: boolean, ctx?: BackwardContext): F32Buffer | null;

  /** The shard a backward runs over: the step's, or the whole batch of `n` for a layer run on its own. */
  protected shardOf(ctx: BackwardContext | ForwardContext | undefined, n: number): StepShard {
    return ctx?.shard ?? wholeBatch(this.be, n);
  }

  /**
   * For a backward run on its own (no ctx): combines the per-leaf gradients
   * of {@link leafParams} into each `grad`, as a model's step combines them
   * (the same bits).
   */
  protected completeGrads(ctx: BackwardContext | undefined, leaves: number): void {
    if (ctx) return;
    for (const p of this.leafParams()) pairwiseRows(this.be, p.leafGrads!.sub(0, leaves * p.value.length), leaves, p.value.length, p.grad!);
  }

  /**
   * The trainable tensors whose gradients backward writes leaf by leaf into
   * `leafGrads` (to be combined over the batch's leaves); the others' `grad`
   * is complete after backward (e.g. batch norm's, made from batch totals).
   */
  leafParams(): Param[] {
    return this.params().filter((p) => p.grad);
  }

  /** Leaf j's gradient slot of `p` (leaves slots in all), grown on demand. */
  protected leafGrad(p: Param, leaves: number, j: number): F32Buffer {
    const size = p.value.length;
    if (!p.leafGrads || p.leafGrads.length < leaves * size) {
      p.leafGrads?.free();
      p.leafGrads = this.be.heap.alloc(leaves * size);
    }
    return p.leafGrads.sub(j * size, size);
  }

  /**
   * The widest rows [images, columns] this layer passes to a step's
   * reduceRows (layers/step.ts): 0 for layers that combine nothing over the
   * batch. A worker pool sizes its shared tables by the widest in the model.
   */
  get reducedColumns(): number {
    return 0;
  }

  /** Parameters and statistics, in a fixed order (the model file order). */
  params(): Param[] {
    return [];
  }

  /** The JSON-serialisable configuration that recreates this layer. */
  abstract config(): Record<string, unknown>;

  /** Buffers owned by this layer, grown on demand (contents are not kept when growing). */
  protected buffer(key: string, length: number): F32Buffer {
    return this.pool.f32(key, length);
  }

  protected bufferI32(key: string, length: number): I32Buffer {
    return this.pool.i32(key, length);
  }

  /**
   * @internal Set by the model when its last forward did not compute this
   * layer's own output (inference fused it into the layer before or after).
   */
  outputStale = false;

  /**
   * The layer's output of the model's last forward (for diagnostics), or null
   * when there is none: the layer passes its input on (flatten, inference
   * dropout), or that forward was a fused inference pass that did not compute
   * this layer's output on its own (see `predict`'s `layerOutputs`).
   */
  lastOutput(): F32Buffer | null {
    if (this.outputStale) return null;
    return (this.pool.get('y') as F32Buffer | undefined) ?? null;
  }

  /** Frees every buffer the layer owns, parameters included. */
  dispose(): void {
    this.pool.free();
    for (const p of this.params()) {
      p.value.free();
      p.grad?.free();
      p.leafGrads?.free();
    }
  }

  /** Values per example of the output. */
  get outputSize(): number {
    return this.outputShape.reduce((a, b) => a * b, 1);
  }

  /** Values per example of the input. */
  get inputSize(): number {
    return this.inputShape.reduce((a, b) => a * b, 1);
  }

  /** Throws the standard shape error naming this layer. */
  protected shapeError(inputShape: Shape, expected: string): never {
    throw new Error(`layer '${this.name}' (${this.kind}): expected input shape ${expected}, got ${fmtShape(inputShape)}`);
  }
}

/** Activation fused into conv2d / dense. */
export type Activation = 'linear' | 'relu';

export function checkActivation(a: unknown, where: string): Activation {
  if (a === undefined || a === 'linear' || a === 'relu') return (a ?? 'linear') as Activation;
  throw new Error(`${where}: unknown activation ${JSON.stringify(a)} (valid: 'linear', 'relu')`);
}
