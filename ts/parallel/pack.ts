/** Tensors copied to and from a shared region, back to back in the given order. */
import type { F32Buffer } from '../backend/memory.js';

/** Writes each buffer's values into `dst` from `at`, back to back; returns the offset after the last. */
export function pack(dst: Float32Array, bufs: readonly F32Buffer[], at = 0): number {
  for (const b of bufs) {
    dst.set(b.view, at);
    at += b.length;
  }
  return at;
}

/** Reads each buffer's values from `src` from `at`, back to back (only those `copy` selects; the others are skipped over); returns the offset after the last. */
export function unpack(src: Float32Array, bufs: readonly F32Buffer[], at = 0, copy: (i: number) => boolean = () => true): number {
  bufs.forEach((b, i) => {
    if (copy(i)) b.view.set(src.subarray(at, at + b.length));
    at += b.length;
  });
  return at;
}
