/** Batch normalisation kernels over x [N, C, S] (S = H*W for NCHW, 1 for NC). */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { checkBuffer } from './check.js';

/** Shape of a batch-norm call. */
export interface BatchNormShape { n: number; c: number; s: number }

/** Training forward: normalises with batch statistics, saves mean/invstd, updates running stats (PyTorch momentum). */
export function batchNormForwardTrain(
  be: Backend, sh: BatchNormShape, x: F32Buffer, y: F32Buffer, gamma: F32Buffer, beta: F32Buffer,
  mean: F32Buffer, invstd: F32Buffer, runningMean: F32Buffer, runningVar: F32Buffer, momentum: number, eps: number,
): void {
  const len = sh.n * sh.c * sh.s;
  checkBuffer('batchNormForwardTrain', 'x', x, len);
  checkBuffer('batchNormForwardTrain', 'y', y, len);
  for (const [n, b] of [['gamma', gamma], ['beta', beta], ['mean', mean], ['invstd', invstd], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    checkBuffer('batchNormForwardTrain', n, b, sh.c);
  }
  be.k.batchnorm_forward_train(x.ptr, y.ptr, gamma.ptr, beta.ptr, mean.ptr, invstd.ptr, runningMean.ptr, runningVar.ptr, sh.n, sh.c, sh.s, momentum, eps);
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

/** Backward of the training forward: overwrites dx (may be dy), dgamma, dbeta. */
export function batchNormBackward(
  be: Backend, sh: BatchNormShape, x: F32Buffer, dy: F32Buffer, gamma: F32Buffer, mean: F32Buffer, invstd: F32Buffer,
  dx: F32Buffer, dgamma: F32Buffer, dbeta: F32Buffer,
): void {
  const len = sh.n * sh.c * sh.s;
  for (const [n, b] of [['x', x], ['dy', dy], ['dx', dx]] as const) checkBuffer('batchNormBackward', n, b, len);
  for (const [n, b] of [['gamma', gamma], ['mean', mean], ['invstd', invstd], ['dgamma', dgamma], ['dbeta', dbeta]] as const) {
    checkBuffer('batchNormBackward', n, b, sh.c);
  }
  be.k.batchnorm_backward(x.ptr, dy.ptr, gamma.ptr, mean.ptr, invstd.ptr, dx.ptr, dgamma.ptr, dbeta.ptr, sh.n, sh.c, sh.s);
}
