/** GEMM: C = alpha * op(A) * op(B) + beta * C on row-major f32 matrices (kernel `sgemm`). */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { checkBuffer, checkDim, checkFinite } from './check.js';

/** Shape and scaling of a GEMM call. op(A) is m x k, op(B) is k x n, C is m x n. */
export interface GemmParams {
  m: number;
  n: number;
  k: number;
  /** Use A^T: A is then stored k x m. */
  transA?: boolean;
  /** Use B^T: B is then stored n x k. */
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** C = alpha * op(A) * op(B) + beta * C with dense (unpadded) row-major storage. */
export function gemm(be: Backend, p: GemmParams, a: F32Buffer, b: F32Buffer, c: F32Buffer): void {
  const { m, n, k } = p;
  const transA = p.transA ?? false;
  const transB = p.transB ?? false;
  const alpha = p.alpha ?? 1;
  const beta = p.beta ?? 0;
  checkDim('gemm', 'm', m);
  checkDim('gemm', 'n', n);
  checkDim('gemm', 'k', k);
  checkFinite('gemm', 'alpha', alpha);
  checkFinite('gemm', 'beta', beta);
  checkBuffer('gemm', 'A', a, m * k);
  checkBuffer('gemm', 'B', b, k * n);
  checkBuffer('gemm', 'C', c, m * n);
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  be.k.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.ptr, Math.max(lda, 1), b.ptr, Math.max(ldb, 1), beta, c.ptr, Math.max(n, 1));
}

/**
 * A dense layer in one pass over y: y [n, u] = x [n, d] . w [d, u] + bias [u]
 * (optional), then relu when `relu`; the bias and relu are applied as the GEMM
 * stores each tile for the last time. The same bits as gemm, biasAddRows and
 * reluForward one after another.
 */
export function denseForward(
  be: Backend, x: F32Buffer, w: F32Buffer, bias: F32Buffer | null, y: F32Buffer, n: number, d: number, u: number, relu: boolean,
): void {
  checkDim('denseForward', 'n', n);
  checkDim('denseForward', 'd', d);
  checkDim('denseForward', 'u', u);
  checkBuffer('denseForward', 'x', x, n * d);
  checkBuffer('denseForward', 'w', w, d * u);
  if (bias) checkBuffer('denseForward', 'bias', bias, u);
  checkBuffer('denseForward', 'y', y, n * u);
  be.k.dense_forward(x.ptr, w.ptr, bias ? bias.ptr : 0, y.ptr, n, d, u, relu ? 1 : 0);
}
