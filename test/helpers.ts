/** Test helpers: seeded random data, both backends, comparisons. */
import { initBackend, type Backend, type BackendName } from '../ts/backend/load.js';

/** Every build (relaxed, SIMD, scalar), instantiated once per test file; relaxed SIMD runs in the test processes on every Node (vitest.config.ts). */
export async function allBackends(): Promise<Backend[]> {
  return Promise.all(BACKENDS.map((backend) => initBackend({ backend })));
}

export const BACKENDS: BackendName[] = ['relaxed', 'simd', 'scalar'];

/** mulberry32: a tiny seeded PRNG so test data is reproducible. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` uniform values in [-1, 1). */
export function randArray(n: number, r: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

/** Random integer in [lo, hi]. */
export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Largest |a - b| / (atol + rtol*|b|) over all elements; <= 1 means within tolerance. */
export function maxErrRatio(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : Math.max(worst, r);
  }
  return worst;
}

/** Scratch buffers for kernels that take them (freed with the backend's instance; tests only). */
export function scratchFor(be: Backend): (key: string, length: number) => import('../ts/backend/memory.js').F32Buffer {
  const pool = new Map<string, import('../ts/backend/memory.js').F32Buffer>();
  return (key, length) => {
    const b = pool.get(key);
    if (b && b.length >= length) return b;
    b?.free();
    const nb = be.heap.alloc(length);
    pool.set(key, nb);
    return nb;
  };
}
