/** Batch normalisation kernels over x [N, C, S] (S = H*W for NCHW, 1 for NC). */
import type { Backend } from '../backend/load.js';
import type { F32Buffer, I32Buffer } from '../backend/memory.js';
import { checkBuffer } from './check.js';

/**
 * What batch norm's training kernels need of a training step: the whole
 * batch's size, and the combination of per-image partial-sum rows over the
 * whole batch (the pairwise tree over all its rows; every part of a batch
 * split across workers gets the same bits). `local` [rows, cols] may be
 * overwritten. The layers' StepShard (layers/step.ts) is one.
 */
export interface BatchRows {
  readonly batchSize: number;
  reduceRows(local: F32Buffer, rows: number, cols: number, out: F32Buffer): void;
}

/** Scratch buffers a step needs, by name (a layer's pool, or fresh ones). */
export type Scratch = (key: string, length: number) => F32Buffer;

/**
 * Training forward of the shard's images x [n, C, S] within the step's batch:
 * per-image sums, combined over the whole batch (shard.reduceRows), the mean;
 * per-image squared deviations, combined likewise, invstd and the running
 * statistics; then y. `mean` and `invstd` are kept for backward.
 */
export function batchNormForwardTrain(
  be: Backend, sh: BatchNormShape, x: F32Buffer, y: F32Buffer, gamma: F32Buffer, beta: F32Buffer,
  mean: F32Buffer, invstd: F32Buffer, runningMean: F32Buffer, runningVar: F32Buffer, momentum: number, eps: number,
  shard: BatchRows, scratch: Scratch,
): void {
  const m = shard.batchSize * sh.s, c = sh.c;
  const rows = scratch('rows', sh.n * c), total = scratch('total', c);
  batchNormImageSums(be, sh, x, rows);
  shard.reduceRows(rows, sh.n, c, total);
  batchNormMean(be, total, m, c, mean);
  batchNormImageSqDevs(be, sh, x, mean, rows);
  shard.reduceRows(rows, sh.n, c, total);
  batchNormFinishStats(be, total, m, c, mean, invstd, runningMean, runningVar, momentum, eps);
  batchNormNormalize(be, sh, x, y, gamma, beta, mean, invstd);
}

/**
 * Backward of batchNormForwardTrain: dgamma and dbeta from the whole batch's
 * totals (the same in every shard), and the shard's dx (may be dy).
 */
export function batchNormBackward(
  be: Backend, sh: BatchNormShape, x: F32Buffer, dy: F32Buffer, gamma: F32Buffer, mean: F32Buffer, invstd: F32Buffer,
  dx: F32Buffer, dgamma: F32Buffer, dbeta: F32Buffer, shard: BatchRows, scratch: Scratch,
): void {
  const c = sh.c;
  const rows = scratch('rows2', sh.n * 2 * c), total = scratch('total2', 2 * c);
  batchNormBackwardPartials(be, sh, x, dy, mean, rows);
  shard.reduceRows(rows, sh.n, 2 * c, total);
  const t = total.view, db = dbeta.view, dg = dgamma.view, inv = invstd.view;
  for (let j = 0; j < c; j++) {
    db[j] = t[2 * j];
    dg[j] = Math.fround(t[2 * j + 1] * inv[j]); // one f32 multiply, as the kernels round
  }
  batchNormBackwardDx(be, sh, x, dy, gamma, mean, invstd, dbeta, dgamma, dx, shard.batchSize * sh.s);
}

/** Shape of a batch-norm call. */
export interface BatchNormShape { n: number; c: number; s: number }

/**
 * dst[j] = the pairwise tree over the rows of src [rows, cols] (see norm.rs):
 * the one way per-image and per-leaf partial sums are combined. src is
 * overwritten (the tree's scratch).
 */
export function pairwiseRows(be: Backend, src: F32Buffer, rows: number, cols: number, dst: F32Buffer): void {
  checkBuffer('pairwiseRows', 'src', src, rows * cols);
  checkBuffer('pairwiseRows', 'dst', dst, cols);
  be.k.pairwise_rows(src.ptr, rows, cols, dst.ptr);
}

/**
 * pairwiseRows with aligned nodes of the tree already summed: cover[r] is
 * the level of the summed node row r belongs to (see shard.ts `treeNodes`,
 * `coverLevels`); each node's value is in its first row, its other rows are
 * not read. The same bits as pairwiseRows over the unsummed rows.
 */
export function pairwiseRowsPartial(be: Backend, src: F32Buffer, rows: number, cols: number, cover: I32Buffer, dst: F32Buffer): void {
  checkBuffer('pairwiseRowsPartial', 'src', src, rows * cols);
  checkBuffer('pairwiseRowsPartial', 'dst', dst, cols);
  if (cover.length < rows) throw new Error(`pairwiseRowsPartial: cover holds ${cover.length} levels, needs ${rows}`);
  for (let r = 0; r < rows; r++) {
    const t = cover.view[r];
    if (!Number.isInteger(t) || t < 0 || t > 30) throw new Error(`pairwiseRowsPartial: cover[${r}] = ${t} is not a tree level`);
  }
  be.k.pairwise_rows_partial(src.ptr, rows, cols, cover.ptr, dst.ptr);
}

/** out [n, c] = each image's sum of each channel. */
export function batchNormImageSums(be: Backend, sh: BatchNormShape, x: F32Buffer, out: F32Buffer): void {
  checkBuffer('batchNormImageSums', 'x', x, sh.n * sh.c * sh.s);
  checkBuffer('batchNormImageSums', 'out', out, sh.n * sh.c);
  be.k.batchnorm_image_sums(x.ptr, sh.n, sh.c, sh.s, out.ptr);
}

/** mean [c] = total [c] / m. */
export function batchNormMean(be: Backend, total: F32Buffer, m: number, c: number, mean: F32Buffer): void {
  checkBuffer('batchNormMean', 'total', total, c);
  checkBuffer('batchNormMean', 'mean', mean, c);
  be.k.batchnorm_mean(total.ptr, m, c, mean.ptr);
}

/** out [n, c] = each image's sum of (x - mean)^2 per channel. */
export function batchNormImageSqDevs(be: Backend, sh: BatchNormShape, x: F32Buffer, mean: F32Buffer, out: F32Buffer): void {
  checkBuffer('batchNormImageSqDevs', 'x', x, sh.n * sh.c * sh.s);
  checkBuffer('batchNormImageSqDevs', 'mean', mean, sh.c);
  checkBuffer('batchNormImageSqDevs', 'out', out, sh.n * sh.c);
  be.k.batchnorm_image_sq_devs(x.ptr, mean.ptr, sh.n, sh.c, sh.s, out.ptr);
}

/** invstd and the running statistics from the squared-deviation totals over m values. */
export function batchNormFinishStats(
  be: Backend, sq: F32Buffer, m: number, c: number, mean: F32Buffer, invstd: F32Buffer,
  runningMean: F32Buffer, runningVar: F32Buffer, momentum: number, eps: number,
): void {
  for (const [n, b] of [['sq', sq], ['mean', mean], ['invstd', invstd], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    checkBuffer('batchNormFinishStats', n, b, c);
  }
  be.k.batchnorm_finish_stats(sq.ptr, m, c, mean.ptr, invstd.ptr, runningMean.ptr, runningVar.ptr, momentum, eps);
}

/** y = (x - mean) * gamma * invstd + beta. */
export function batchNormNormalize(
  be: Backend, sh: BatchNormShape, x: F32Buffer, y: F32Buffer, gamma: F32Buffer, beta: F32Buffer, mean: F32Buffer, invstd: F32Buffer,
): void {
  const len = sh.n * sh.c * sh.s;
  checkBuffer('batchNormNormalize', 'x', x, len);
  checkBuffer('batchNormNormalize', 'y', y, len);
  for (const [n, b] of [['gamma', gamma], ['beta', beta], ['mean', mean], ['invstd', invstd]] as const) checkBuffer('batchNormNormalize', n, b, sh.c);
  be.k.batchnorm_normalize(x.ptr, y.ptr, gamma.ptr, beta.ptr, mean.ptr, invstd.ptr, sh.n, sh.c, sh.s);
}

/** Inference forward with running statistics. */
export function batchNormForwardInfer(
  be: Backend, sh: BatchNormShape, x: F32Buffer, y: F32Buffer, gamma: F32Buffer, beta: F32Buffer,
  runningMean: F32Buffer, runningVar: F32Buffer, eps: number,
): void {
  const len = sh.n * sh.c * sh.s;
  checkBuffer('batchNormForwardInfer', 'x', x, len);
  checkBuffer('batchNormForwardInfer', 'y', y, len);
  for (const [n, b] of [['gamma', gamma], ['beta', beta], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    checkBuffer('batchNormForwardInfer', n, b, sh.c);
  }
  be.k.batchnorm_forward_infer(x.ptr, y.ptr, gamma.ptr, beta.ptr, runningMean.ptr, runningVar.ptr, sh.n, sh.c, sh.s, eps);
}

/** out [n, 2c]: per image and channel, sum(dy) and sum(dy * (x - mean)). */
export function batchNormBackwardPartials(be: Backend, sh: BatchNormShape, x: F32Buffer, dy: F32Buffer, mean: F32Buffer, out: F32Buffer): void {
  const len = sh.n * sh.c * sh.s;
  checkBuffer('batchNormBackwardPartials', 'x', x, len);
  checkBuffer('batchNormBackwardPartials', 'dy', dy, len);
  checkBuffer('batchNormBackwardPartials', 'mean', mean, sh.c);
  checkBuffer('batchNormBackwardPartials', 'out', out, sh.n * 2 * sh.c);
  be.k.batchnorm_backward_partials(x.ptr, dy.ptr, mean.ptr, sh.n, sh.c, sh.s, out.ptr);
}

/** dx of the training forward (may be dy) from dbeta and dgamma over m = (whole batch) * S values. */
export function batchNormBackwardDx(
  be: Backend, sh: BatchNormShape, x: F32Buffer, dy: F32Buffer, gamma: F32Buffer, mean: F32Buffer, invstd: F32Buffer,
  dbeta: F32Buffer, dgamma: F32Buffer, dx: F32Buffer, m: number,
): void {
  const len = sh.n * sh.c * sh.s;
  for (const [n, b] of [['x', x], ['dy', dy], ['dx', dx]] as const) checkBuffer('batchNormBackwardDx', n, b, len);
  for (const [n, b] of [['gamma', gamma], ['mean', mean], ['invstd', invstd], ['dbeta', dbeta], ['dgamma', dgamma]] as const) {
    checkBuffer('batchNormBackwardDx', n, b, sh.c);
  }
  be.k.batchnorm_backward_dx(x.ptr, dy.ptr, gamma.ptr, mean.ptr, invstd.ptr, dbeta.ptr, dgamma.ptr, dx.ptr, sh.n, sh.c, sh.s, m);
}
