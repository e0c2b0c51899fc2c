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

/** out[r] = index of the first maximum of row r of x [n, k]. */
export function argmaxRows(be: Backend, x: F32Buffer, out: I32Buffer, n: number, k: number): void {
  checkBuffer('argmaxRows', 'x', x, n * k);
  checkBuffer('argmaxRows', 'out', out, n);
  be.k.argmax_rows(x.ptr, out.ptr, n, k);
}
