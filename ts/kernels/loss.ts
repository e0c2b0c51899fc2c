/** Softmax, fused softmax + cross-entropy, row argmax. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer, I32Buffer } from '../backend/memory.js';
import { checkBuffer } from './check.js';

/** probs = softmax of each row of logits [n, k]. */
export function softmax(be: Backend, logits: F32Buffer, probs: F32Buffer, n: number, k: number): void {
  checkBuffer('softmax', 'logits', logits, n * k);
  checkBuffer('softmax', 'probs', probs, n * k);
  be.k.softmax(logits.ptr, probs.ptr, n, k);
}

/**
 * Mean cross-entropy of softmax(logits) vs labels; writes dlogits = (softmax - onehot) / n.
 * Labels must be integers in [0, k): checked here, since the kernel trusts them.
 */
export function softmaxCrossEntropy(be: Backend, logits: F32Buffer, labels: I32Buffer, dlogits: F32Buffer, n: number, k: number): number {
  checkBuffer('softmaxCrossEntropy', 'logits', logits, n * k);
  checkBuffer('softmaxCrossEntropy', 'labels', labels, n);
  checkBuffer('softmaxCrossEntropy', 'dlogits', dlogits, n * k);
  const lv = labels.view;
  for (let i = 0; i < n; i++) {
    if (lv[i] < 0 || lv[i] >= k) throw new Error(`softmaxCrossEntropy: label ${lv[i]} at row ${i} is outside 0..${k - 1}`);
  }
  return be.k.softmax_xent(logits.ptr, labels.ptr, dlogits.ptr, n, k);
}

/**
 * Per-row cross-entropy: losses[r] and dlogits = (softmax - onehot) / batchSize,
 * where batchSize is the whole batch's (rows may be a shard of it). The mean
 * loss is {@link meanOfRows} of the whole batch's losses.
 */
export function softmaxCrossEntropyRows(
  be: Backend, logits: F32Buffer, labels: I32Buffer, dlogits: F32Buffer, losses: F32Buffer, n: number, k: number, batchSize: number,
): void {
  checkBuffer('softmaxCrossEntropyRows', 'logits', logits, n * k);
  checkBuffer('softmaxCrossEntropyRows', 'labels', labels, n);
  checkBuffer('softmaxCrossEntropyRows', 'dlogits', dlogits, n * k);
  checkBuffer('softmaxCrossEntropyRows', 'losses', losses, n);
  const lv = labels.view;
  for (let i = 0; i < n; i++) {
    if (lv[i] < 0 || lv[i] >= k) throw new Error(`softmaxCrossEntropyRows: label ${lv[i]} at row ${i} is outside 0..${k - 1}`);
  }
  be.k.softmax_xent_rows(logits.ptr, labels.ptr, dlogits.ptr, losses.ptr, n, k, 1 / batchSize);
}

/** The mean of per-row losses as softmaxCrossEntropy computes it: an f64 sum in row order, divided, rounded to f32. */
export function meanOfRows(losses: ArrayLike<number>, n: number): number {
  let total = 0;
  for (let r = 0; r < n; r++) total += losses[r];
  return Math.fround(total / n);
}

/** out[r] = index of the first maximum of row r of x [n, k]. */
export function argmaxRows(be: Backend, x: F32Buffer, out: I32Buffer, n: number, k: number): void {
  checkBuffer('argmaxRows', 'x', x, n * k);
  checkBuffer('argmaxRows', 'out', out, n);
  be.k.argmax_rows(x.ptr, out.ptr, n, k);
}
