/**
 * Batch-norm statistics on large channels against a float64 reference. The
 * statistics of LeNet's first batch norm sum 100,352 values per channel; one
 * sequential float32 chain over them lost 2.5e-4 relative in the variance. The
 * kernels sum each image's values in 16 chains and combine the images in a
 * pairwise tree: this test holds them to 1e-5 relative (and prints the errors).
 */
import { describe, expect, it } from 'vitest';
import { batchNormBackward, batchNormForwardTrain } from '../ts/kernels/norm.js';
import { wholeBatch } from '../ts/layers/step.js';
import { scratchFor, allBackends, rng } from './helpers.js';

const backends = await allBackends();

/** MNIST-like activations: most values one background level per channel, the rest "ink" above it. */
function mnistLike(n: number, c: number, s: number, seed: number): Float32Array {
  const r = rng(seed), x = new Float32Array(n * c * s);
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      const bg = 0.4 + 0.37 * ci - 0.05 * (ci % 3);
      for (let i = 0; i < s; i++) x[(ni * c + ci) * s + i] = r() < 0.8 ? bg : bg + 3 * r();
    }
  }
  return x;
}

/** float64 statistics and outputs of the training forward and backward. */
function reference(n: number, c: number, s: number, x: Float32Array, dy: Float32Array, eps: number) {
  const m = n * s, mean = new Float64Array(c), variance = new Float64Array(c), y = new Float64Array(x.length);
  const dbeta = new Float64Array(c), dgamma = new Float64Array(c), dbetaAbs = new Float64Array(c), dgammaAbs = new Float64Array(c);
  for (let ci = 0; ci < c; ci++) {
    let sum = 0;
    for (let ni = 0; ni < n; ni++) for (let i = 0; i < s; i++) sum += x[(ni * c + ci) * s + i];
    const mu = sum / m;
    let sq = 0;
    for (let ni = 0; ni < n; ni++) for (let i = 0; i < s; i++) sq += (x[(ni * c + ci) * s + i] - mu) ** 2;
    const v = sq / m, inv = 1 / Math.sqrt(v + eps);
    mean[ci] = mu;
    variance[ci] = v;
    for (let ni = 0; ni < n; ni++) {
      for (let i = 0; i < s; i++) {
        const j = (ni * c + ci) * s + i, xhat = (x[j] - mu) * inv;
        y[j] = xhat; // gamma 1, beta 0
        dbeta[ci] += dy[j];
        dbetaAbs[ci] += Math.abs(dy[j]);
        dgamma[ci] += dy[j] * xhat;
        dgammaAbs[ci] += Math.abs(dy[j] * xhat);
      }
    }
  }
  return { mean, variance, y, dbeta, dgamma, dbetaAbs, dgammaAbs };
}

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number> = b) => {
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / Math.abs(scale[i]));
  return w;
};

describe.each(backends.map((b) => [b.name, b] as const))('%s build: batch-norm statistics vs float64', (name, be) => {
  it.each([[128, 6, 28, 28], [256, 16, 10, 10]])('x[%i,%i,%i,%i]: mean, variance and output within 1e-5 relative', (n, c, h, w) => {
    const s = h * w, len = n * c * s, eps = 1e-5;
    const X = mnistLike(n, c, s, n + c), r = rng(7), DY = Float32Array.from({ length: len }, () => r() * 2 - 1);
    const x = be.heap.from(X), y = be.heap.alloc(len), gamma = be.heap.alloc(c, 1), beta = be.heap.alloc(c, 0);
    const mean = be.heap.alloc(c), invstd = be.heap.alloc(c), rm = be.heap.alloc(c, 0), rv = be.heap.alloc(c, 0);
    // momentum 1: the running statistics are exactly this batch's mean and unbiased variance.
    batchNormForwardTrain(be, { n, c, s }, x, y, gamma, beta, mean, invstd, rm, rv, 1, eps, wholeBatch(be, n), scratchFor(be));
    const ref = reference(n, c, s, X, DY, eps);
    const m = n * s;
    const meanErr = maxRel(mean.view, ref.mean);
    const varErr = maxRel(Array.from(rv.view, (v) => (v * (m - 1)) / m), ref.variance);
    const yErr = maxRel(y.view, ref.y, new Float64Array(len).fill(1)); // y has unit variance: absolute = relative to its scale
    const dy = be.heap.from(DY), dx = be.heap.alloc(len), dg = be.heap.alloc(c), db = be.heap.alloc(c);
    batchNormBackward(be, { n, c, s }, x, dy, gamma, mean, invstd, dx, dg, db, wholeBatch(be, n), scratchFor(be));
    const dbErr = maxRel(db.view, ref.dbeta, ref.dbetaAbs), dgErr = maxRel(dg.view, ref.dgamma, ref.dgammaAbs);
    console.log(`batch norm ${name} x[${n},${c},${h},${w}]: max relative error mean ${meanErr.toExponential(2)}, variance ${varErr.toExponential(2)}, ` +
      `output ${yErr.toExponential(2)}; dbeta ${dbErr.toExponential(2)}, dgamma ${dgErr.toExponential(2)} (relative to the sum of |terms|)`);
    expect(meanErr).toBeLessThanOrEqual(1e-5);
    expect(varErr).toBeLessThanOrEqual(1e-5);
    expect(yErr).toBeLessThanOrEqual(1e-5);
    expect(dbErr).toBeLessThanOrEqual(1e-6);
    expect(dgErr).toBeLessThanOrEqual(1e-6);
    for (const b of [x, y, gamma, beta, mean, invstd, rm, rv, dy, dx, dg, db]) b.free();
  });
});
