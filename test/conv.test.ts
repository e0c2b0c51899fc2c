import { describe, expect, it } from 'vitest';
import { gemm } from '../ts/kernels/gemm.js';
import { col2im, conv2dBackward, conv2dForward, conv2dForwardPool2, convGeometry, convPool2WorkspaceSize, convWorkspaceSize, im2col, im2colSize, type Padding } from '../ts/kernels/conv.js';
import { maxPoolForward, poolGeometry } from '../ts/kernels/pool.js';
import { reluForward } from '../ts/kernels/elementwise.js';
import { convBackwardRef, convForwardRef, dot, numericGrad } from './reference/nn.js';
import { allBackends, maxErrRatio, randArray, randInt, rng } from './helpers.js';

const backends = await allBackends();

type Case = { n: number; c: number; h: number; w: number; f: number; k: [number, number]; s: [number, number]; pad: Padding };
const cases: Case[] = [
  { n: 2, c: 1, h: 32, w: 32, f: 6, k: [5, 5], s: [1, 1], pad: 'valid' },      // LeNet conv1
  { n: 1, c: 6, h: 14, w: 14, f: 16, k: [5, 5], s: [1, 1], pad: 'valid' },     // LeNet conv2
  { n: 3, c: 16, h: 5, w: 5, f: 12, k: [5, 5], s: [1, 1], pad: 'valid' },      // LeNet conv3: 1x1 output
  { n: 2, c: 3, h: 9, w: 11, f: 5, k: [3, 3], s: [2, 2], pad: 'same' },
  { n: 1, c: 2, h: 10, w: 10, f: 3, k: [7, 7], s: [1, 1], pad: 'same' },
  { n: 2, c: 5, h: 6, w: 7, f: 9, k: [1, 1], s: [1, 1], pad: 'valid' },        // 1x1: no im2col
  { n: 1, c: 4, h: 8, w: 8, f: 3, k: [1, 1], s: [2, 2], pad: 'valid' },
  { n: 1, c: 64, h: 4, w: 4, f: 64, k: [3, 3], s: [1, 1], pad: 1 },
  { n: 2, c: 3, h: 7, w: 6, f: 2, k: [4, 2], s: [3, 2], pad: [2, 1] },
  { n: 1, c: 1, h: 5, w: 5, f: 1, k: [2, 2], s: [1, 1], pad: 'same' },         // asymmetric 'same' padding
  { n: 7, c: 2, h: 12, w: 12, f: 4, k: [3, 3], s: [1, 1], pad: 'valid' },      // images grouped 6 + 1 per GEMM
  { n: 5, c: 3, h: 4, w: 4, f: 5, k: [1, 1], s: [1, 1], pad: 'valid' },        // 1x1, grouped
  { n: 3, c: 32, h: 7, w: 6, f: 13, k: [3, 3], s: [2, 1], pad: 'valid' },      // implicit GEMM: CKK = 288 > one k block, 13 filters
  { n: 2, c: 2, h: 9, w: 23, f: 7, k: [2, 3], s: [1, 2], pad: 'valid' },       // implicit GEMM: OH*OW = 88, 7 filters
  { n: 2, c: 30, h: 7, w: 14, f: 5, k: [3, 3], s: [2, 1], pad: 'valid' },      // row kernel: 5 filters, rows of 8 + 4, CKK = 270
  { n: 2, c: 3, h: 9, w: 10, f: 16, k: [3, 3], s: [1, 1], pad: 'valid' },      // 2 x 16 tiles (SIMD): position pairs within rows
  { n: 1, c: 4, h: 7, w: 7, f: 16, k: [3, 3], s: [1, 1], pad: 'valid' },       // 2 x 16: pairs across rows, a single last position
  { n: 2, c: 2, h: 9, w: 9, f: 32, k: [3, 2], s: [1, 2], pad: 'valid' },       // 2 x 16: two panels, stride 2 (pairs not adjacent)
  { n: 2, c: 32, h: 6, w: 7, f: 16, k: [3, 3], s: [1, 1], pad: 'valid' },      // 2 x 16: CKK = 288 > one k block
  // Padded: x copied with its zeros, then the implicit route (deep4's layers and their kin).
  { n: 2, c: 4, h: 28, w: 28, f: 4, k: [5, 5], s: [1, 1], pad: 'same' },       // padded, row kernel (4 filters, rows of 28)
  { n: 2, c: 4, h: 14, w: 14, f: 8, k: [3, 3], s: [1, 1], pad: 'same' },       // padded, 4 x 8 tiles
  { n: 2, c: 8, h: 14, w: 14, f: 16, k: [3, 3], s: [1, 1], pad: 'same' },      // padded, 2 x 16 tiles
  { n: 2, c: 30, h: 6, w: 8, f: 5, k: [3, 3], s: [1, 1], pad: 1 },             // padded, row kernel, CKK = 270 > one k block
  { n: 2, c: 2, h: 8, w: 9, f: 3, k: [4, 4], s: [1, 1], pad: 'same' },         // padded, asymmetric (1 top/left, 2 bottom/right)
  { n: 1, c: 3, h: 10, w: 9, f: 6, k: [3, 2], s: [2, 3], pad: 'same' },        // padded, strides 2 and 3
  { n: 2, c: 2, h: 5, w: 6, f: 3, k: [2, 2], s: [1, 1], pad: [3, 4] },         // padding wider than the kernel: all-zero windows
  { n: 1, c: 1, h: 1, w: 1, f: 2, k: [3, 3], s: [1, 1], pad: 'same' },         // a 1x1 image, 'same': 8 of 9 taps in the padding
  // Short windows (<= 80 taps) take the row kernel forward with SIMD even when the filters fill the panels.
  { n: 2, c: 3, h: 16, w: 16, f: 32, k: [3, 3], s: [1, 1], pad: 'same' },      // an RGB first layer: 27 taps, 32 filters
  { n: 2, c: 8, h: 10, w: 14, f: 16, k: [3, 3], s: [1, 1], pad: 'valid' },     // 72 taps, 16 filters, rows of 12
  // Stride 1, padded at least 'same': dx as a convolution of dy padded by k-1-pad.
  { n: 2, c: 3, h: 7, w: 9, f: 5, k: [3, 5], s: [1, 1], pad: [1, 2] },         // dx as a conv, 3x5 kernel
  { n: 2, c: 2, h: 6, w: 6, f: 3, k: [3, 3], s: [1, 1], pad: [2, 1] },         // dx as a conv with no padding of dy on top/bottom
];
const r = rng(2024);
for (let i = 0; i < 8; i++) {
  const k = randInt(r, 1, 5);
  cases.push({ n: randInt(r, 1, 3), c: randInt(r, 1, 9), h: randInt(r, k, 12), w: randInt(r, k, 12), f: randInt(r, 1, 13),
    k: [k, randInt(r, 1, k)], s: [randInt(r, 1, 2), randInt(r, 1, 3)], pad: (['valid', 'same', 1] as const)[randInt(r, 0, 2)] });
}

describe.each(backends.map((b) => [b.name, b] as const))('conv2d (%s)', (_name, be) => {
  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s: forward and backward match the naive reference', (_s, cs) => {
    const g = convGeometry([cs.n, cs.c, cs.h, cs.w], cs.f, cs.k, cs.s, cs.pad);
    const rr = rng(g.n * 7 + g.c * 13 + g.h * 17 + g.f);
    const X = randArray(g.n * g.c * g.h * g.w, rr), W = randArray(g.f * g.c * g.kh * g.kw, rr), B = randArray(g.f, rr);
    const DY = randArray(g.n * g.f * g.oh * g.ow, rr);
    const x = be.heap.from(X), w = be.heap.from(W), b = be.heap.from(B), dy = be.heap.from(DY);
    const y = be.heap.alloc(DY.length), cols = be.heap.alloc(convWorkspaceSize(be, g));
    const dx = be.heap.alloc(X.length, NaN), dw = be.heap.alloc(W.length, NaN), db = be.heap.alloc(g.f, NaN);
    const ckk = g.c * g.kh * g.kw;

    conv2dForward(be, g, x, w, b, y, cols);
    expect(maxErrRatio(y.view, convForwardRef(g, X, W, B), 1e-6 * ckk, 1e-5)).toBeLessThanOrEqual(1);

    conv2dBackward(be, g, x, w, dy, dx, dw, db, cols);
    const ref = convBackwardRef(g, X, W, DY);
    const tol = 1e-6 * g.n * g.oh * g.ow * g.f;
    expect(maxErrRatio(dx.view, ref.dx, tol, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(dw.view, ref.dw, tol, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(db.view, ref.db, tol, 1e-5)).toBeLessThanOrEqual(1);

    // Finite differences of L = <conv(x, w, b), dy> (reference forward, f64) at sampled entries.
    const pick = (len: number) => Array.from({ length: Math.min(len, 6) }, () => randInt(rr, 0, len - 1));
    const ix = pick(X.length), iw = pick(W.length), ib = pick(g.f);
    const L = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => dot(convForwardRef(g, xx, ww, bb), DY);
    const nx = numericGrad((v) => L(v, W, B), X, ix), nw = numericGrad((v) => L(X, v, B), W, iw), nb = numericGrad((v) => L(X, W, v), B, ib);
    expect(maxErrRatio(ix.map((i) => dx.view[i]), nx, tol, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(iw.map((i) => dw.view[i]), nw, tol, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(ib.map((i) => db.view[i]), nb, tol, 1e-4)).toBeLessThanOrEqual(1);

    // A training forward keeps the im2col matrices; the backward reusing them gives the same bits.
    const work = be.heap.alloc(convWorkspaceSize(be, g, true)), y3 = be.heap.alloc(DY.length);
    const dx3 = be.heap.alloc(X.length), dw3 = be.heap.alloc(W.length), db3 = be.heap.alloc(g.f);
    conv2dForward(be, g, x, w, b, y3, work, true);
    expect(Array.from(y3.view)).toEqual(Array.from(y.view));
    conv2dBackward(be, g, x, w, dy, dx3, dw3, db3, work, true);
    expect(Array.from(dx3.view)).toEqual(Array.from(dx.view));
    expect(Array.from(dw3.view)).toEqual(Array.from(dw.view));
    expect(Array.from(db3.view)).toEqual(Array.from(db.view));
    [work, y3, dx3, dw3, db3].forEach((t) => t.free());

    // Without dx (first layer), dw is the same.
    const dw2 = be.heap.alloc(W.length);
    conv2dBackward(be, g, x, w, dy, null, dw2, null, cols);
    expect(Array.from(dw2.view)).toEqual(Array.from(dw.view));
    [x, w, b, dy, y, cols, dx, dw, db, dw2].forEach((t) => t.free());
  });

  // The relu is applied by the kernel as it stores each output for the last
  // time (after every k block): max(reference, 0), and the very bits of a
  // separate relu pass, on every route (implicit rows / tiles / 2 x 16, im2col +
  // GEMM, grouped images, 1x1, dense-like), with and without bias, keep or not.
  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('%s: fused relu = max(reference, 0), same bits as conv then reluForward', (_s, cs) => {
    const g = convGeometry([cs.n, cs.c, cs.h, cs.w], cs.f, cs.k, cs.s, cs.pad);
    const rr = rng(g.n * 5 + g.c * 11 + g.h * 3 + g.f);
    const X = randArray(g.n * g.c * g.h * g.w, rr), W = randArray(g.f * g.c * g.kh * g.kw, rr), B = randArray(g.f, rr);
    const len = g.n * g.f * g.oh * g.ow, ckk = g.c * g.kh * g.kw;
    const x = be.heap.from(X), w = be.heap.from(W), b = be.heap.from(B);
    for (const [bias, keep] of [[b, false], [null, false], [b, true]] as const) {
      const work = be.heap.alloc(convWorkspaceSize(be, g, keep));
      const fused = be.heap.alloc(len, NaN), plain = be.heap.alloc(len, NaN);
      conv2dForward(be, g, x, w, bias, fused, work, keep, true);
      conv2dForward(be, g, x, w, bias, plain, work, keep, false);
      const ref = convForwardRef(g, X, W, bias ? B : null).map((v) => Math.max(v, 0));
      expect(maxErrRatio(fused.view, ref, 1e-6 * ckk, 1e-5)).toBeLessThanOrEqual(1);
      reluForward(be, plain, plain);
      expect(Array.from(fused.view)).toEqual(Array.from(plain.view));
      expect(fused.view.some((v) => v === 0) && fused.view.some((v) => v > 0)).toBe(true);
      [work, fused, plain].forEach((t) => t.free());
    }
    [x, w, b].forEach((t) => t.free());
  });

  // Inference fuses a 2x2 max pooling (stride 2) into the row kernel's
  // convolutions: the same values as conv then pool (a max is exact), odd
  // output heights dropping their last row as the pooling does.
  it.each([
    ['LeNet conv1', convGeometry([3, 1, 32, 32], 6, [5, 5], [1, 1], 'valid')],
    ['odd output height, 5 filters, 3 channels', convGeometry([2, 3, 11, 14], 5, [3, 3], [1, 1], 'valid')],
    ['OW/2 = 6: a vector and a tail, stride 2 in y', convGeometry([2, 2, 23, 14], 3, [3, 3], [2, 1], 'valid')],
    ['CKK = 270 > one k block', convGeometry([1, 30, 9, 14], 5, [3, 3], [1, 1], 'valid')],
    ['padded (the input copied with its zeros first): 5x5 same, 28x28', convGeometry([2, 4, 28, 28], 6, [5, 5], [1, 1], 'same')],
    ['padded, odd output height: 3x3, padding 1, 9x12', convGeometry([2, 3, 9, 12], 5, [3, 3], [1, 1], 1)],
    // The scalar build keeps its 2x4 filter tiles for filter counts that fill them: no fused pooling there.
    ['16 filters on 27 taps (SIMD: the row kernel for short windows)', convGeometry([2, 3, 16, 16], 16, [3, 3], [1, 1], 'same'), 'simd'],
  ] as const)('%s: conv2dForwardPool2 = conv2dForward then maxPoolForward, to the bit', (_s, g, only?: 'simd') => {
    const rr = rng(g.c * 31 + g.f);
    const X = randArray(g.n * g.c * g.h * g.w, rr), W = randArray(g.f * g.c * g.kh * g.kw, rr), B = randArray(g.f, rr);
    const x = be.heap.from(X), w = be.heap.from(W), b = be.heap.from(B);
    const pg = poolGeometry(g.n * g.f, g.oh, g.ow, [2, 2], [2, 2]);
    const pooled = g.n * g.f * pg.oh * pg.ow;
    if (only === 'simd' && !be.simd) {
      expect(convPool2WorkspaceSize(be, g)).toBe(0);
      return;
    }
    expect(convPool2WorkspaceSize(be, g)).toBeGreaterThan(0);
    for (const [bias, relu] of [[b, true], [null, false], [b, false]] as const) {
      const fused = be.heap.alloc(pooled, NaN), conv = be.heap.alloc(g.n * g.f * g.oh * g.ow), plain = be.heap.alloc(pooled);
      conv2dForwardPool2(be, g, x, w, bias, fused, be.heap.alloc(convPool2WorkspaceSize(be, g)), relu);
      conv2dForward(be, g, x, w, bias, conv, be.heap.alloc(convWorkspaceSize(be, g)), false, relu);
      maxPoolForward(be, pg, conv, plain, be.heap.allocI32(pooled));
      expect(Array.from(fused.view)).toEqual(Array.from(plain.view));
      // And against the naive reference: max over each window of (relu of) the f64 convolution.
      const ref = convForwardRef(g, X, W, bias ? B : null), at = (p: number, y: number, xx: number) => ref[(p * g.oh + y) * g.ow + xx];
      const want = Float64Array.from({ length: pooled }, (_, i) => {
        const p = Math.floor(i / (pg.oh * pg.ow)), y = Math.floor(i / pg.ow) % pg.oh, xx = i % pg.ow;
        const m = Math.max(at(p, 2 * y, 2 * xx), at(p, 2 * y, 2 * xx + 1), at(p, 2 * y + 1, 2 * xx), at(p, 2 * y + 1, 2 * xx + 1));
        return relu ? Math.max(m, 0) : m;
      });
      expect(maxErrRatio(fused.view, want, 1e-6 * g.c * g.kh * g.kw, 1e-5)).toBeLessThanOrEqual(1);
    }
  });

  it('conv2dForwardPool2 is refused where the kernels cannot fuse the pooling (rows not of whole vectors, or filters filling the panels)', () => {
    for (const g of [convGeometry([1, 3, 7, 7], 5, [3, 3], [1, 1], 'same'), convGeometry([1, 6, 14, 14], 16, [5, 5], [1, 1], 'valid')]) {
      expect(convPool2WorkspaceSize(be, g)).toBe(0);
      const t = be.heap.alloc(4096);
      expect(() => conv2dForwardPool2(be, g, t, t, null, t, t)).toThrow(/conv2dForwardPool2: no fused pooling for this convolution/);
    }
  });

  // Unpadded convolutions skip the im2col matrix (implicit GEMM); their sums must
  // still run in the GEMM's order, so that both routes give the same bits. The
  // exception, with SIMD: the weight gradient's row kernel (a stride-1 row of whole
  // vectors, a filter count that does not fill 8 lanes: LeNet's conv1) puts 4
  // output positions across the lanes; the SIMD build's bits are then those of
  // the same order computed here in float32 steps (Math.fround: each product and
  // sum rounded as the kernel rounds it), the relaxed build's (fused) are checked
  // against float64 with the other tests.
  const rowKernelWeights = (g: ReturnType<typeof convGeometry>) => be.simd && g.sw === 1 && g.ow % 4 === 0 && g.f % 8 !== 0;
  /** dw as the row kernel sums it: per (filter, tap), four lane sums over positions ox = lane (mod 4), an image at a time, then (l0 + l1) + (l2 + l3). */
  const laneOrderWeights = (g: ReturnType<typeof convGeometry>, X: Float32Array, DY: Float32Array) => {
    const ckk = g.c * g.kh * g.kw, ohw = g.oh * g.ow, chw = g.c * g.h * g.w, out = new Float32Array(g.f * ckk), f32 = Math.fround;
    for (let f = 0; f < g.f; f++) {
      for (let t = 0; t < ckk; t++) {
        const ci = Math.floor(t / (g.kh * g.kw)), ky = Math.floor(t / g.kw) % g.kh, kx = t % g.kw;
        const lanes = [0, 0, 0, 0];
        for (let n = 0; n < g.n; n++) {
          const image = [0, 0, 0, 0]; // each image's lane sums, then added to the running ones
          for (let oy = 0; oy < g.oh; oy++) {
            for (let ox = 0; ox < g.ow; ox++) {
              const xv = X[n * chw + ci * g.h * g.w + (oy * g.sh + ky) * g.w + ox * g.sw + kx], d = DY[(n * g.f + f) * ohw + oy * g.ow + ox];
              image[ox % 4] = f32(image[ox % 4] + f32(xv * d));
            }
          }
          for (let l = 0; l < 4; l++) lanes[l] = f32(lanes[l] + image[l]);
        }
        out[f * ckk + t] = f32(f32(lanes[0] + lanes[1]) + f32(lanes[2] + lanes[3]));
      }
    }
    return out;
  };
  it.each([
    ['LeNet conv1', convGeometry([2, 1, 32, 32], 6, [5, 5], [1, 1], 'valid')],
    ['CKK = 288, stride 2x1', convGeometry([2, 32, 22, 29], 13, [3, 3], [2, 1], 'valid')],
    ['row kernel, CKK = 270, 5 filters', convGeometry([2, 30, 30, 14], 5, [3, 3], [1, 1], 'valid')],
    ['2 x 16 tiles, 15x15 output (pairs across rows)', convGeometry([2, 4, 19, 19], 16, [5, 5], [1, 1], 'valid')],
    ['2 x 16 tiles, 32 filters, CKK = 288', convGeometry([2, 32, 22, 21], 32, [3, 3], [1, 1], 'valid')],
  ] as const)('%s: same bits as im2col + GEMM (the weight gradient\'s row kernel: as its lane order)', (_s, g) => {
    const rr = rng(77);
    const ckk = g.c * g.kh * g.kw, ohw = g.oh * g.ow, chw = g.c * g.h * g.w;
    const X = randArray(g.n * chw, rr), W = randArray(g.f * ckk, rr), B = randArray(g.f, rr), DY = randArray(g.n * g.f * ohw, rr);
    const x = be.heap.from(X), w = be.heap.from(W), dy = be.heap.from(DY), work = be.heap.alloc(convWorkspaceSize(be, g));
    const y = be.heap.alloc(g.n * g.f * ohw), dw = be.heap.alloc(W.length);
    conv2dForward(be, g, x, w, be.heap.from(B), y, work);
    conv2dBackward(be, g, x, w, dy, null, dw, null, work);
    // The same through the exported im2col and sgemm, one image per GEMM (as the library does when OH*OW >= 200).
    const xi = be.heap.alloc(chw), cols = be.heap.alloc(ckk * ohw), yi = be.heap.alloc(g.f * ohw), dyi = be.heap.alloc(g.f * ohw);
    const dwRef = be.heap.alloc(W.length);
    for (let n = 0; n < g.n; n++) {
      xi.view.set(X.subarray(n * chw, (n + 1) * chw));
      im2col(be, g, xi, cols);
      for (let f = 0; f < g.f; f++) yi.view.fill(B[f], f * ohw, (f + 1) * ohw);
      gemm(be, { m: g.f, n: ohw, k: ckk, beta: 1 }, w, cols, yi);
      expect(Array.from(y.view.subarray(n * g.f * ohw, (n + 1) * g.f * ohw))).toEqual(Array.from(yi.view));
      dyi.view.set(DY.subarray(n * g.f * ohw, (n + 1) * g.f * ohw));
      gemm(be, { m: g.f, n: ckk, k: ohw, transB: true, beta: n === 0 ? 0 : 1 }, dyi, cols, dwRef);
    }
    if (!rowKernelWeights(g)) expect(Array.from(dw.view)).toEqual(Array.from(dwRef.view));
    else if (!be.relaxed) expect(Array.from(dw.view)).toEqual(Array.from(laneOrderWeights(g, X, DY)));
  });

  it('col2im is the adjoint of im2col: <im2col(x), C> = <x, col2im(C)>', () => {
    for (const cs of cases) {
      const g = { ...convGeometry([1, cs.c, cs.h, cs.w], cs.f, cs.k, cs.s, cs.pad) };
      const rr = rng(g.c + g.h);
      const X = randArray(g.c * g.h * g.w, rr), C = randArray(im2colSize(g), rr);
      const x = be.heap.from(X), cols = be.heap.alloc(C.length), c = be.heap.from(C), dx = be.heap.alloc(X.length, 0);
      im2col(be, g, x, cols);
      col2im(be, g, c, dx);
      const lhs = dot(cols.view, C), rhs = dot(X, dx.view);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
      [x, cols, c, dx].forEach((t) => t.free());
    }
  });

  it('rejects geometry that does not fit and undersized buffers', () => {
    expect(() => convGeometry([1, 1, 3, 3], 1, [5, 5], [1, 1], 'valid')).toThrow(/5x5 kernel .* does not fit a 3x3 input/);
    expect(() => convGeometry([1, 1, 3, 3], 1, [0, 1], [1, 1], 'valid')).toThrow(/kernel height must be a positive integer/);
    const g = convGeometry([1, 2, 4, 4], 3, [3, 3], [1, 1], 'valid');
    const small = be.heap.alloc(5);
    expect(() => conv2dForward(be, g, small, small, null, small, small)).toThrow(/conv2dForward: buffer x holds 5 floats, needs 32/);
    small.free();
  });
});

it('the SIMD and scalar builds agree on conv forward and backward', () => {
  const g = convGeometry([4, 6, 14, 14], 16, [5, 5], [1, 1], 'valid');
  const rr = rng(5);
  const X = randArray(g.n * g.c * g.h * g.w, rr), W = randArray(g.f * g.c * 25, rr), DY = randArray(g.n * g.f * g.oh * g.ow, rr);
  const outs = backends.map((be) => {
    const x = be.heap.from(X), w = be.heap.from(W), dy = be.heap.from(DY), cols = be.heap.alloc(convWorkspaceSize(be, g));
    const y = be.heap.alloc(DY.length), dx = be.heap.alloc(X.length), dw = be.heap.alloc(W.length);
    conv2dForward(be, g, x, w, null, y, cols);
    conv2dBackward(be, g, x, w, dy, dx, dw, null, cols);
    return [y.toArray(), dx.toArray(), dw.toArray()];
  });
  // Different tile shapes sum in a different order: agreement to f32 rounding of 150-600 terms.
  for (let i = 0; i < 3; i++) expect(maxErrRatio(outs[0][i], outs[1][i], 1e-4, 1e-5)).toBeLessThanOrEqual(1);
});
