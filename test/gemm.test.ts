import { describe, expect, it } from 'vitest';
import { denseForward, gemm } from '../ts/kernels/gemm.js';
import { biasAddRows, reluForward } from '../ts/kernels/elementwise.js';
import { gemmRef } from './reference/gemm.js';
import { allBackends, maxErrRatio, randArray, randInt, rng } from './helpers.js';

const backends = await allBackends();

describe.each(backends.map((b) => [b.name, b] as const))('gemm (%s)', (_name, be) => {
  const cases: [boolean, boolean, number, number, number][] = [];
  const r = rng(42);
  // Edges of every blocking level: 1, non-multiples of MR/NR, past KC=256 and MC=120.
  for (const [m, n, k] of [[1, 1, 1], [1, 7, 3], [5, 9, 13], [6, 25, 784], [17, 33, 300], [121, 10, 257], [3, 4100, 2], [5, 2064, 300], [7, 2048, 20],
    // B rows 4 KiB apart (SIMD: the first row pair's tile copies each panel for
    // the others; one pair reads in place; scalar: packed a line of each row at a
    // time), past NC = 4096 columns, odd rows, several k blocks, B past L2
    [5, 9216, 20], [3, 5120, 300], [6, 8192, 25], [2, 4096, 25], [1, 2048, 7], [4, 1024, 260],
    // last column panel 4 wide (one-vector tile stored in place), 3 and 6 wide (edge tiles)
    [40, 84, 120], [19, 11, 5], [18, 14, 33]]) {
    for (const ta of [false, true]) for (const tb of [false, true]) cases.push([ta, tb, m, n, k]);
  }
  for (let i = 0; i < 20; i++) cases.push([r() < 0.5, r() < 0.5, randInt(r, 1, 70), randInt(r, 1, 70), randInt(r, 1, 300)]);

  it.each(cases)('transA=%s transB=%s m=%i n=%i k=%i matches the naive reference', (ta, tb, m, n, k) => {
    const rr = rng(m * 1000 + n * 10 + k);
    const A = randArray(m * k, rr), B = randArray(k * n, rr), C0 = randArray(m * n, rr);
    for (const [alpha, beta] of [[1, 0], [0.5, 1], [-1.5, 0.25]]) {
      const a = be.heap.from(A), b = be.heap.from(B), c = be.heap.from(C0);
      gemm(be, { m, n, k, transA: ta, transB: tb, alpha, beta }, a, b, c);
      const ref = gemmRef(ta, tb, m, n, k, alpha, A, B, beta, C0);
      // f32 accumulation over k terms of |a*b| <= 1: error grows ~ k * eps.
      expect(maxErrRatio(c.view, ref, 1e-6 * k + 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      [a, b, c].forEach((x) => x.free());
    }
  });

  // The dense layer's one pass: bias and relu applied as each tile of y is
  // stored for the last time. Rows 1..16 read B in place (SIMD), more pack it;
  // d past KC = 256 has several k blocks (a relu between them would be wrong);
  // u covers whole panels, 4-wide and narrower edge tiles.
  const denseCases: [number, number, number][] = [[1, 1, 1], [1, 400, 120], [2, 84, 10], [5, 300, 7], [16, 257, 33], [17, 120, 84],
    [128, 400, 120], [128, 120, 84], [130, 600, 3], [64, 784, 100], [3, 20, 4100],
    // u a multiple of 1024: W's rows 4 KiB apart (SIMD: copied by the first row pair's tile; in place for one pair)
    [6, 25, 2048], [2, 25, 1024], [9, 300, 1024]];
  it.each(denseCases)('denseForward n=%i d=%i u=%i: max(x w + b, 0) of the reference, same bits as gemm, biasAddRows, reluForward', (n, d, u) => {
    const rr = rng(n * 31 + d * 7 + u);
    const X = randArray(n * d, rr), W = randArray(d * u, rr), B = randArray(u, rr);
    const x = be.heap.from(X), w = be.heap.from(W), b = be.heap.from(B);
    for (const [bias, relu] of [[b, true], [null, true], [b, false]] as const) {
      const fused = be.heap.alloc(n * u, NaN), plain = be.heap.alloc(n * u, NaN);
      denseForward(be, x, w, bias, fused, n, d, u, relu);
      const ref = gemmRef(false, false, n, u, d, 1, X, W, 0, new Float32Array(n * u))
        .map((v, i) => (bias ? v + B[i % u] : v)).map((v) => (relu ? Math.max(v, 0) : v));
      expect(maxErrRatio(fused.view, ref, 1e-6 * d + 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      gemm(be, { m: n, n: u, k: d }, x, w, plain);
      if (bias) biasAddRows(be, plain, bias, n, u);
      if (relu) reluForward(be, plain, plain);
      expect(Array.from(fused.view)).toEqual(Array.from(plain.view));
      [fused, plain].forEach((t) => t.free());
    }
    [x, w, b].forEach((t) => t.free());
  });

  it('beta = 0 overwrites NaN in C; k = 0 scales C by beta', () => {
    const a = be.heap.from([1, 2]), b = be.heap.from([3, 4]), c = be.heap.from([NaN]);
    gemm(be, { m: 1, n: 1, k: 2 }, a, b, c);
    expect(c.view[0]).toBe(11);
    gemm(be, { m: 1, n: 1, k: 0, beta: 2 }, a, b, c);
    expect(c.view[0]).toBe(22);
  });

  it('rejects buffers too small for the shape', () => {
    const a = be.heap.alloc(5), b = be.heap.alloc(6), c = be.heap.alloc(4);
    expect(() => gemm(be, { m: 2, n: 2, k: 3 }, a, b, c)).toThrow(/gemm: buffer A holds 5 floats, needs 6/);
    expect(() => gemm(be, { m: 2, n: 2, k: -3 }, a, b, c)).toThrow(/gemm: k must be a non-negative integer/);
  });
});

// With few rows of A, B is read in place (SIMD, 2x16 tile) or packed a block of
// columns at a time (at 4 KiB strides, and in the scalar build) instead of in
// NC-column chunks; each C element must still get the same sum in the same order.
it.each([[16, 300, 300], [16, 2048, 40], [16, 9216, 30], [12, 5120, 300], [6, 4096, 25], [2, 2048, 25], [1, 1024, 9]])('rows of a %i-row GEMM (small-A routes) equal those of the 17-row packed route', (m, n, k) => {
  for (const be of backends) {
    const r = rng(m + n + k);
    const A = randArray((m + 1) * k, r), B = randArray(k * n, r);
    const b = be.heap.from(B);
    const small = be.heap.alloc(m * n), big = be.heap.alloc((m + 1) * n);
    gemm(be, { m, n, k }, be.heap.from(A.subarray(0, m * k)), b, small);
    gemm(be, { m: m + 1, n, k }, be.heap.from(A), b, big);
    expect(Array.from(small.view)).toEqual(Array.from(big.view.subarray(0, m * n)));
  }
});

it('the relaxed, SIMD and scalar builds agree within f32 rounding, and the relaxed build rounds otherwise (fused multiply-add)', () => {
  const m = 37, n = 91, k = 400;
  const r = rng(7);
  const A = randArray(m * k, r), B = randArray(k * n, r);
  const [relaxed, simd, scalar] = backends.map((be) => {
    const a = be.heap.from(A), b = be.heap.from(B), c = be.heap.alloc(m * n);
    gemm(be, { m, n, k }, a, b, c);
    return c.toArray();
  });
  expect(maxErrRatio(simd, scalar, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  expect(maxErrRatio(relaxed, simd, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  // one rounding instead of two: on a machine with FMA some of 3,367 sums of 400 products differ in their last bits
  expect(relaxed.some((v, i) => v !== simd[i])).toBe(backends[0].relaxed);
});
