/** Element-wise kernels: relu, bias, dropout, fill, affine, multiply. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { checkBuffer, checkDim, checkFinite } from './check.js';

/** y = max(x, 0) over `len` values (y may be x). */
export function reluForward(be: Backend, x: F32Buffer, y: F32Buffer, len = x.length): void {
  checkBuffer('reluForward', 'x', x, len);
  checkBuffer('reluForward', 'y', y, len);
  be.k.relu_forward(x.ptr, y.ptr, len);
}

/** dx = dy where y > 0 (y is the relu output); dx may be dy. */
export function reluBackward(be: Backend, y: F32Buffer, dy: F32Buffer, dx: F32Buffer, len = y.length): void {
  for (const [n, b] of [['y', y], ['dy', dy], ['dx', dx]] as const) checkBuffer('reluBackward', n, b, len);
  be.k.relu_backward(y.ptr, dy.ptr, dx.ptr, len);
}

/** y[r][c] += bias[c] for a rows x cols matrix. */
export function biasAddRows(be: Backend, y: F32Buffer, bias: F32Buffer, rows: number, cols: number): void {
  checkBuffer('biasAddRows', 'y', y, rows * cols);
  checkBuffer('biasAddRows', 'bias', bias, cols);
  be.k.bias_add_rows(y.ptr, bias.ptr, rows, cols);
}

/** dbias[c] = column sums of dy (rows x cols). */
export function biasGradRows(be: Backend, dy: F32Buffer, dbias: F32Buffer, rows: number, cols: number): void {
  checkBuffer('biasGradRows', 'dy', dy, rows * cols);
  checkBuffer('biasGradRows', 'dbias', dbias, cols);
  be.k.bias_grad_rows(dy.ptr, dbias.ptr, rows, cols);
}

/**
 * Inverted dropout: keeps each value with probability `keep` and scales it by 1/keep;
 * `mask` receives the multipliers (0 or 1/keep). `seed` is a 53-bit integer; the
 * mask depends only on (seed, index), identically on every backend.
 */
export function dropoutForward(be: Backend, x: F32Buffer, y: F32Buffer, mask: F32Buffer, keep: number, seed: number, len = x.length, offset = 0): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + len > 2 ** 32) throw new Error(`dropoutForward: offset must be a non-negative integer, got ${offset}`);
  for (const [n, b] of [['x', x], ['y', y], ['mask', mask]] as const) checkBuffer('dropoutForward', n, b, len);
  if (!(keep > 0 && keep <= 1)) throw new Error(`dropoutForward: keep probability must be in (0, 1], got ${keep}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`dropoutForward: seed must be a non-negative safe integer, got ${seed}`);
  be.k.dropout_forward(x.ptr, y.ptr, mask.ptr, len, keep, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, offset);
}

/** dst = a * b element-wise (dropout backward: dx = dy * mask). */
export function mulElementwise(be: Backend, a: F32Buffer, b: F32Buffer, dst: F32Buffer, len = a.length): void {
  for (const [n, buf] of [['a', a], ['b', b], ['dst', dst]] as const) checkBuffer('mul', n, buf, len);
  be.k.mul(a.ptr, b.ptr, dst.ptr, len);
}

/** Sets `len` values of `p` to `v`. */
export function fill(be: Backend, p: F32Buffer, v: number, len = p.length): void {
  checkBuffer('fill', 'p', p, len);
  be.k.fill(p.ptr, len, v);
}

/** y = x * scale + shift. */
export function affine(be: Backend, x: F32Buffer, y: F32Buffer, scale: number, shift: number, len = x.length): void {
  checkDim('affine', 'len', len);
  checkFinite('affine', 'scale', scale);
  checkFinite('affine', 'shift', shift);
  checkBuffer('affine', 'x', x, len);
  checkBuffer('affine', 'y', y, len);
  be.k.affine(x.ptr, y.ptr, len, scale, shift);
}
