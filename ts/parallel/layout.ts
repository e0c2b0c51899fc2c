/**
 * The shared memory of the worker pools, over one SharedArrayBuffer each:
 * the control table, the regions of a training pool and of an inference
 * pool, and the model's description for workers. Training layout (regions in
 * this order, each starting on a 64-byte line, see lineUp):
 *
 *   ctrl    Int32 [CTRL_LEN]           sequence, command, batch size, seeds, barrier, done, abort, threads
 *   idx     Int32 [maxBatch]           the step's example indices
 *   params  F32   [P]                  every parameter and statistic, in model order
 *   grads   F32   [Pt]                 every trainable parameter's gradient, in model order
 *   leaves  F32   [maxLeaves * Pl]     leaf gradients of the leaf parameters, row = leaf
 *   tables  F32   [2 * maxBatch * W]   two tables of per-image partial sums (batch norm)
 *   losses  F32   [maxBatch]           per-row losses
 *   correct Int32 [workers]            per-worker count classified correctly
 *   ready   Int32 [workers * Lp]       the step (ctrl SEQ) whose leaf rows of each leaf parameter a worker has written
 *   split   Int32 [workers + 1]        this step's first leaf of each active worker, then the leaf count (see balance.ts)
 *   timing  F64   [workers * TIMES]    per-worker milliseconds spent, by phase
 *
 * The data set lives in a SharedArrayBuffer of its own (images and labels).
 */

import type { Net } from '../engine/net.js';
import type { Normalization } from '../engine/types.js';

/** How a pool describes its model to a worker (which builds its own copy). */
export interface ModelSpec {
  layers: Record<string, unknown>[];
  inputShape: number[];
  classes: number;
  normalization: Normalization;
}

/** The model's description for workers. */
export function modelSpec(m: Net): ModelSpec {
  return { layers: m.layers.map((l) => l.config()), inputShape: m.inputShape, classes: m.classes, normalization: m.normalization };
}

/** Indices into ctrl. */
export const C = {
  SEQ: 0, CMD: 1, N: 2, SEED_LO: 3, SEED_HI: 4, BAR_COUNT: 5, BAR_GEN: 6, DONE: 7, ABORT: 8,
  /** Workers that own leaves this step (the others sit it out): min(workers, leaves). */
  ACTIVE: 9,
  /** Inference: whether the input holds f32 (else u8), examples per chunk, whether to evaluate (else predict). */
  FLOAT: 10, CHUNK: 11, EVALUATE: 12,
  /** Inference: bumped when the parameters in shared memory are new. */
  PARAMS_VERSION: 13,
  /** How many worker threads count themselves done after each command (the last one wakes the caller). */
  THREADS: 14,
  /** Tests: worker i fails in the middle of its next step: faultCode(i, how). */
  FAULT: 15,
  /** Inference: the next chunk of the call a worker may take. */
  NEXT_CHUNK: 16,
  /** Training: the next block of gradient columns a worker may reduce (see shard-trainer.ts). */
  NEXT_BLOCK: 17,
} as const;
export const CTRL_LEN = 18;

/** Commands. */
export const CMD = { STEP: 1, EXIT: 2, INFER: 3 } as const;

/** An inference pool's shared memory (see infer.ts). */
export interface InferSizes {
  workers: number;
  /** Examples one call holds at most (a multiple of batchSize). */
  capacity: number;
  inputSize: number;
  classes: number;
  params: number;
  /** Examples a worker takes at a time (at most batchSize, see INFER_CHUNK). */
  chunk: number;
  /** predict/evaluate's batchSize: evaluate's losses are averaged over batches of this many, as the model's own. */
  batchSize: number;
}

export interface InferViews {
  ctrl: Int32Array;
  params: Float32Array;
  /** The input as bytes (u8 pixels) and as f32, over the same memory. */
  inputU8: Uint8Array;
  inputF32: Float32Array;
  /** Per example: its class probabilities (predict) or logits (evaluate). */
  outputs: Float32Array;
  /** How many chunks of the last call each worker computed. */
  chunksBy: Int32Array;
}

/**
 * Byte offsets of regions laid one after another, each on a 64-byte cache
 * line, and the bytes they take: copies between a wasm memory and a shared
 * buffer run at full speed only when both sides are aligned (see "Tuning
 * constants" in docs/benchmarks.md), and no two regions share a line that two
 * threads write.
 */
function lineUp(bytes: number[]): { at: number[]; total: number } {
  const at: number[] = [];
  let o = 0;
  for (const b of bytes) {
    at.push(o);
    o += Math.ceil(b / 64) * 64;
  }
  return { at, total: o };
}

function inferRegions(s: InferSizes): { at: number[]; total: number } {
  return lineUp([4 * CTRL_LEN, 4 * s.params, 4 * s.capacity * s.inputSize, 4 * s.capacity * s.classes, 4 * s.workers]);
}

export function inferBytes(s: InferSizes): number {
  return inferRegions(s).total;
}

export function inferViews(sab: SharedArrayBuffer, s: InferSizes): InferViews {
  const input = s.capacity * s.inputSize;
  const [ctrl, params, inAt, outputs, by] = inferRegions(s).at;
  return {
    ctrl: new Int32Array(sab, ctrl, CTRL_LEN),
    params: new Float32Array(sab, params, s.params),
    inputU8: new Uint8Array(sab, inAt, input),
    inputF32: new Float32Array(sab, inAt, input),
    outputs: new Float32Array(sab, outputs, s.capacity * s.classes),
    chunksBy: new Int32Array(sab, by, s.workers),
  };
}

/** Phases a worker's time is counted in (milliseconds, summed over steps), the barriers it met and the gradient blocks it combined. */
export const T = { STEPS: 0, COPY_IN: 1, COMPUTE: 2, WAIT: 3, LEAF_COPY: 4, REDUCE: 5, BLOCKS: 6, BARRIERS: 7 } as const;
export const TIMES = 8;

/** Sizes the layout is made from. */
export interface LayoutSizes {
  workers: number;
  maxBatch: number;
  maxLeaves: number;
  /** All parameter values (P), trainable ones (Pt), leaf-parameter ones (Pl). */
  params: number;
  trainable: number;
  leafValues: number;
  /** Leaf parameters (Lp). */
  leafParams: number;
  /** Widest per-image partial-sum row (2 * channels of the widest batch norm; at least 1). */
  tableWidth: number;
}

/** Typed views of one pool's shared memory. */
export interface SharedViews {
  sizes: LayoutSizes;
  ctrl: Int32Array;
  idx: Int32Array;
  params: Float32Array;
  grads: Float32Array;
  leaves: Float32Array;
  tables: [Float32Array, Float32Array];
  losses: Float32Array;
  correct: Int32Array;
  ready: Int32Array;
  /** Worker w computes leaves [split[w], split[w + 1]) this step. */
  split: Int32Array;
  timing: Float64Array;
}

function regions(s: LayoutSizes): { at: number[]; total: number } {
  const table = 4 * s.maxBatch * s.tableWidth;
  return lineUp([4 * CTRL_LEN, 4 * s.maxBatch, 4 * s.params, 4 * s.trainable, 4 * s.maxLeaves * s.leafValues, table, table, 4 * s.maxBatch, 4 * s.workers, 4 * s.workers * s.leafParams, 4 * (s.workers + 1), 8 * s.workers * TIMES]);
}

/** Bytes of shared memory a pool of these sizes needs. */
export function layoutBytes(s: LayoutSizes): number {
  return regions(s).total;
}

/** Views of `sab` laid out for `s`. */
export function views(sab: SharedArrayBuffer, s: LayoutSizes): SharedViews {
  const [ctrl, idx, params, grads, leaves, t0, t1, losses, correct, ready, split, timing] = regions(s).at;
  const f32 = (at: number, n: number) => new Float32Array(sab, at, n);
  return {
    sizes: s,
    ctrl: new Int32Array(sab, ctrl, CTRL_LEN),
    idx: new Int32Array(sab, idx, s.maxBatch),
    params: f32(params, s.params),
    grads: f32(grads, s.trainable),
    leaves: f32(leaves, s.maxLeaves * s.leafValues),
    tables: [f32(t0, s.maxBatch * s.tableWidth), f32(t1, s.maxBatch * s.tableWidth)],
    losses: f32(losses, s.maxBatch),
    correct: new Int32Array(sab, correct, s.workers),
    ready: new Int32Array(sab, ready, s.workers * s.leafParams),
    split: new Int32Array(sab, split, s.workers + 1),
    timing: new Float64Array(sab, timing, s.workers * TIMES),
  };
}

/** Thrown in a worker when the pool was aborted (another worker failed, or dispose). */
export class PoolAborted extends Error {}

/** Thrown in the calling thread when a barrier waited longer than its limit (a worker that died cannot say so while the caller blocks). */
export class PoolStalled extends PoolAborted {}
