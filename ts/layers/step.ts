/**
 * How one training step's work is cut, fixed by the batch size alone, so that
 * any number of workers computes the same bits:
 *
 * - Gradient leaves: the batch is cut into leaves of LEAF_SIZE images (the
 *   last may be smaller). Each leaf's weight gradients are computed on their
 *   own and the leaves are combined by the pairwise tree of `pairwise_rows`
 *   (norm.rs), in leaf order. Workers own whole, consecutive leaves, and each
 *   sums the largest nodes of that tree its leaves cover (`treeNodes`) before
 *   handing them on: the tree is then finished from those nodes
 *   (`pairwise_rows_partial`), the same additions in the same order.
 * - Batch-norm sums: per image, combined by the same tree over the batch's
 *   images (see norm.rs), which needs every shard's rows: `reduceRows`.
 * - Dropout masks: drawn by element index in the whole batch.
 * - The loss: per row, summed in row order.
 *
 * A worker (or the single in-process path) sees its part of the batch as a
 * StepShard. The layers define this contract (they are what needs it); the
 * one-thread path (wholeBatch) and the worker pool (ts/parallel) implement it.
 */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { pairwiseRows, type BatchRows } from '../kernels/norm.js';
import type { Param } from './param.js';

/** Images per gradient leaf. */
export const LEAF_SIZE = 16;

/** One shard of a training step's batch, as a layer sees it (batch norm's kernels see it as BatchRows). */
export interface StepShard extends BatchRows {
  /** Index of the shard's first image in the batch. */
  readonly offset: number;
  /** Sizes of the gradient leaves in this shard, in order; they add up to its images. */
  readonly leaves: readonly number[];
  /** Where present, told after each layer's backward: its leaf gradients are complete (a worker hands them on at once). */
  layerDone?(layer: { leafParams(): Param[] }): void;
}

/** Number of leaves of a batch of `n`. */
export function leafCount(n: number): number {
  return Math.ceil(n / LEAF_SIZE);
}

/** Sizes of leaves first..first+count of a batch of `n`. */
export function leafSizes(n: number, first = 0, count = leafCount(n) - first): number[] {
  return Array.from({ length: count }, (_, i) => Math.min(LEAF_SIZE, n - (first + i) * LEAF_SIZE));
}

/** A node of the pairwise tree over some rows (norm.rs): 2^level rows from `start`. */
export interface TreeNode {
  start: number;
  level: number;
}

/**
 * The largest nodes of the pairwise tree over `rows` rows that cover rows
 * [r0, r1), in order: the tree splits the rows into blocks of the powers of
 * two in rows' binary form (largest first), each a balanced tree, so a node
 * is 2^level rows starting at a multiple of 2^level from its block's start.
 */
export function treeNodes(rows: number, r0: number, r1: number): TreeNode[] {
  const blocks: [start: number, size: number][] = [];
  for (let bit = 30, at = 0; bit >= 0; bit--) {
    const size = 2 ** bit;
    if (Math.floor(rows / size) % 2 === 1) {
      blocks.push([at, size]);
      at += size;
    }
  }
  const nodes: TreeNode[] = [];
  for (let p = r0; p < r1;) {
    const [b0, size] = blocks.find(([b, z]) => p >= b && p < b + z)!;
    const end = Math.min(r1, b0 + size);
    let level = 0;
    while ((p - b0) % 2 ** (level + 1) === 0 && p + 2 ** (level + 1) <= end) level++;
    nodes.push({ start: p, level });
    p += 2 ** level;
  }
  return nodes;
}

/**
 * cover[r] for pairwise_rows_partial: the level of the summed node row r
 * belongs to, when the rows are cut into the given nodes.
 */
export function coverLevels(rows: number, nodes: readonly TreeNode[]): Int32Array {
  const cover = new Int32Array(rows);
  for (const nd of nodes) cover.fill(nd.level, nd.start, nd.start + 2 ** nd.level);
  return cover;
}

/** The whole batch as one shard, reduced in place (one thread). */
export function wholeBatch(be: Backend, n: number): StepShard {
  return { offset: 0, batchSize: n, leaves: leafSizes(n), reduceRows: (local, rows, cols, out) => pairwiseRows(be, local, rows, cols, out) };
}

/** Leaves [first, end) of `leaves` that worker w of `workers` owns when they are split evenly. */
export function ownedLeaves(leaves: number, w: number, workers: number): [number, number] {
  return [Math.floor((w * leaves) / workers), Math.floor(((w + 1) * leaves) / workers)];
}

/** Images [first, end) of a batch of `n` that worker w of `workers` computes when the leaves are split evenly: its leaves' images. */
export function ownedImages(n: number, w: number, workers: number): [number, number] {
  return leafImages(n, ...ownedLeaves(leafCount(n), w, workers));
}

/** Images [first, end) of leaves [l0, l1) of a batch of `n`. */
export function leafImages(n: number, l0: number, l1: number): [number, number] {
  return [Math.min(l0 * LEAF_SIZE, n), Math.min(l1 * LEAF_SIZE, n)];
}
