/** Pooling, padding, element-wise, batch-norm, loss and optimiser kernels vs naive references. */
import { describe, expect, it } from 'vitest';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward, padBackward, padForward, poolGeometry } from '../ts/kernels/pool.js';
import { biasAddRows, biasGradRows, dropoutForward, mulElementwise, reluBackward, reluForward, affine, fill } from '../ts/kernels/elementwise.js';
import { batchNormBackward, batchNormForwardInfer, batchNormForwardTrain, pairwiseRows, pairwiseRowsPartial } from '../ts/kernels/norm.js';
import { coverLevels, treeNodes } from '../ts/layers/step.js';
import { argmaxRows, softmax, softmaxCrossEntropy } from '../ts/kernels/loss.js';
import { adamUpdate, sgdUpdate } from '../ts/kernels/optim.js';
import { batchNormRef, dot, numericGrad, poolForwardRef, xentRef } from './reference/nn.js';
import { wholeBatch } from '../ts/layers/step.js';
import { scratchFor, allBackends, maxErrRatio, randArray, randInt, rng } from './helpers.js';

const backends = await allBackends();

describe.each(backends.map((b) => [b.name, b] as const))('%s build', (_name, be) => {
  describe('pooling', () => {
    const shapes: [number, number, number, number, number, number, number][] = [
      [6, 28, 28, 2, 2, 2, 2], [2, 10, 13, 2, 2, 2, 2], [3, 7, 9, 3, 3, 2, 2], [2, 5, 5, 3, 2, 1, 1], [1, 1, 1, 1, 1, 1, 1], [4, 10, 6, 2, 3, 3, 1], [2, 8, 8, 8, 8, 1, 1],
    ];
    it.each(shapes)('max and avg pooling planes=%i %ix%i window %ix%i stride %ix%i', (planes, h, w, kh, kw, sh, sw) => {
      const g = poolGeometry(planes, h, w, [kh, kw], [sh, sw]);
      const rr = rng(planes * h + w);
      const X = randArray(planes * h * w, rr);
      // Ties: quantise half the values so windows often hold equal maxima.
      for (let i = 0; i < X.length; i += 2) X[i] = Math.round(X[i] * 2) / 2;
      const DY = randArray(planes * g.oh * g.ow, rr);
      const x = be.heap.from(X), y = be.heap.alloc(DY.length), arg = be.heap.allocI32(DY.length), dy = be.heap.from(DY), dx = be.heap.alloc(X.length, NaN);
      for (const kind of ['max', 'avg'] as const) {
        const ref = poolForwardRef(kind, planes, h, w, kh, kw, sh, sw, X);
        if (kind === 'max') {
          maxPoolForward(be, g, x, y, arg);
          expect(Array.from(arg.view)).toEqual(Array.from(ref.arg)); // first max wins
          // Inference (no argmax): the very same values.
          const yv = be.heap.alloc(DY.length, NaN);
          maxPoolForward(be, g, x, yv, null);
          expect(Array.from(yv.view)).toEqual(Array.from(y.view));
          yv.free();
          maxPoolBackward(be, g, dy, arg, dx);
        } else {
          avgPoolForward(be, g, x, y);
          avgPoolBackward(be, g, dy, dx);
        }
        expect(maxErrRatio(y.view, ref.y, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
        // Gradient: finite differences of <pool(x), dy> (avg is linear; for max, the
        // reference is piecewise linear and the step stays inside the linear piece
        // unless two cells tie, so compare against the scatter definition instead).
        const DX = new Float64Array(X.length);
        for (let p = 0; p < planes; p++) for (let o = 0; o < g.oh * g.ow; o++) {
          const d = DY[p * g.oh * g.ow + o];
          if (kind === 'max') DX[p * h * w + ref.arg[p * g.oh * g.ow + o]] += d;
          else {
            const oy = Math.floor(o / g.ow), ox = o % g.ow;
            for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) DX[p * h * w + (oy * sh + ky) * w + ox * sw + kx] += d / (kh * kw);
          }
        }
        expect(maxErrRatio(dx.view, DX, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
        if (kind === 'avg') {
          const idx = Array.from({ length: 5 }, () => randInt(rr, 0, X.length - 1));
          const num = numericGrad((v) => dot(poolForwardRef('avg', planes, h, w, kh, kw, sh, sw, v).y, DY), X, idx);
          expect(maxErrRatio(idx.map((i) => dx.view[i]), num, 1e-5, 1e-4)).toBeLessThanOrEqual(1);
        }
      }
      [x, y, arg, dy, dx].forEach((t) => t.free());
    });

    it('max pooling routes a tie to the first cell only', () => {
      const g = poolGeometry(1, 2, 2, [2, 2], [2, 2]);
      const x = be.heap.from([3, 3, 3, 3]), y = be.heap.alloc(1), arg = be.heap.allocI32(1), dy = be.heap.from([1]), dx = be.heap.alloc(4);
      maxPoolForward(be, g, x, y, arg);
      maxPoolBackward(be, g, dy, arg, dx);
      expect(Array.from(dx.view)).toEqual([1, 0, 0, 0]);
    });

    it('zero padding forward and backward', () => {
      const g = { planes: 2, h: 3, w: 2, top: 2, left: 1, oh: 7, ow: 4 };
      const X = randArray(12, rng(1)), x = be.heap.from(X), y = be.heap.alloc(56, NaN), dx = be.heap.alloc(12);
      padForward(be, g, x, y);
      const y2 = be.heap.alloc(56);
      padForward(be, g, x, y2, -0.5);
      expect(Array.from(y2.view).filter((v) => v === -0.5).length).toBe(56 - 12);
      for (let p = 0; p < 2; p++) for (let i = 0; i < 7; i++) for (let j = 0; j < 4; j++) {
        const inside = i >= 2 && i < 5 && j >= 1 && j < 3;
        expect(y.view[(p * 7 + i) * 4 + j]).toBe(inside ? X[(p * 3 + i - 2) * 2 + j - 1] : 0);
      }
      padBackward(be, g, y, dx);
      expect(Array.from(dx.view)).toEqual(Array.from(X));
      expect(() => poolGeometry(1, 3, 3, [4, 1], [1, 1])).toThrow(/4x1 window does not fit a 3x3 input/);
    });
  });

  describe('element-wise', () => {
    it('relu forward/backward, bias add/grad, fill, affine, mul (lengths not divisible by 4)', () => {
      for (const len of [1, 3, 4, 7, 33, 1000]) {
        const rr = rng(len);
        const X = randArray(len, rr), DY = randArray(len, rr);
        X[0] = 0; // relu'(0) = 0
        const x = be.heap.from(X), y = be.heap.alloc(len), dy = be.heap.from(DY), dx = be.heap.alloc(len);
        reluForward(be, x, y);
        expect(Array.from(y.view)).toEqual(Array.from(X, (v) => Math.max(v, 0)));
        reluBackward(be, y, dy, dx);
        expect(Array.from(dx.view)).toEqual(Array.from(X, (v, i) => (v > 0 ? DY[i] : 0)));
        affine(be, x, y, 0.5, -2);
        expect(maxErrRatio(y.view, Array.from(X, (v) => v * 0.5 - 2), 1e-6, 1e-6)).toBeLessThanOrEqual(1);
        mulElementwise(be, x, dy, y);
        expect(Array.from(y.view)).toEqual(Array.from(X, (v, i) => Math.fround(v * DY[i])));
        fill(be, y, 2.5);
        expect(Array.from(y.view).every((v) => v === 2.5)).toBe(true);
        [x, y, dy, dx].forEach((t) => t.free());
      }
      for (const [rows, cols] of [[1, 1], [5, 7], [128, 84], [3, 10]]) {
        const rr = rng(rows * cols);
        const Y = randArray(rows * cols, rr), B = randArray(cols, rr);
        const y = be.heap.from(Y), b = be.heap.from(B), db = be.heap.alloc(cols, NaN);
        biasAddRows(be, y, b, rows, cols);
        expect(maxErrRatio(y.view, Array.from(Y, (v, i) => v + B[i % cols]), 1e-7, 1e-6)).toBeLessThanOrEqual(1);
        const dyRows = be.heap.from(Y);
        biasGradRows(be, dyRows, db, rows, cols);
        const ref = new Float64Array(cols);
        Y.forEach((v, i) => (ref[i % cols] += v));
        expect(maxErrRatio(db.view, ref, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
        [y, b, db, dyRows].forEach((t) => t.free());
      }
    });

    it('dropout keeps ~keep of the values, scales by 1/keep, and is a pure function of the seed', () => {
      const len = 20000, keep = 0.9;
      const x = be.heap.from(new Float32Array(len).fill(2)), y = be.heap.alloc(len), mask = be.heap.alloc(len), y2 = be.heap.alloc(len), m2 = be.heap.alloc(len);
      dropoutForward(be, x, y, mask, keep, 12345);
      const kept = Array.from(mask.view).filter((v) => v !== 0);
      expect(kept.every((v) => v === Math.fround(1 / keep))).toBe(true);
      expect(Math.abs(kept.length / len - keep)).toBeLessThan(0.01); // 3+ sigma is 0.0064
      expect(Array.from(y.view).every((v, i) => v === Math.fround(2 * mask.view[i]))).toBe(true);
      dropoutForward(be, x, y2, m2, keep, 12345);
      expect(Array.from(m2.view)).toEqual(Array.from(mask.view));
      dropoutForward(be, x, y2, m2, keep, 2 ** 40 + 12345);
      expect(Array.from(m2.view)).not.toEqual(Array.from(mask.view));
      expect(() => dropoutForward(be, x, y, mask, 0, 1)).toThrow(/keep probability must be in \(0, 1\]/);
    });
  });

  describe('batch norm', () => {
    it.each([[8, 6, 49], [3, 16, 25], [128, 84, 1], [2, 3, 1], [5, 4, 7], [4, 13, 9], [3, 7, 5], [6, 13, 1]])('n=%i c=%i s=%i: train/infer forward and backward', (n, c, s) => {
      const rr = rng(n * c * s);
      const len = n * c * s, eps = 1e-5, momentum = 0.1;
      const X = randArray(len, rr).map((v, i) => v * 3 + (i % 5)), G = randArray(c, rr), Bt = randArray(c, rr), DY = randArray(len, rr);
      const x = be.heap.from(X), y = be.heap.alloc(len), gamma = be.heap.from(G), beta = be.heap.from(Bt);
      const mean = be.heap.alloc(c), invstd = be.heap.alloc(c), rm = be.heap.alloc(c, 0.5), rv = be.heap.alloc(c, 2);
      batchNormForwardTrain(be, { n, c, s }, x, y, gamma, beta, mean, invstd, rm, rv, momentum, eps, wholeBatch(be, n), scratchFor(be));
      const ref = batchNormRef(n, c, s, X, G, Bt, eps);
      expect(maxErrRatio(y.view, ref.y, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
      const m = n * s;
      expect(maxErrRatio(rm.view, Array.from(ref.mean, (v) => 0.9 * 0.5 + 0.1 * v), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      expect(maxErrRatio(rv.view, Array.from(ref.var, (v) => 0.9 * 2 + 0.1 * (m > 1 ? (v * m) / (m - 1) : v)), 1e-5, 1e-4)).toBeLessThanOrEqual(1);

      // Backward vs finite differences of <bn(x), dy> through the f64 reference.
      const dy = be.heap.from(DY), dx = be.heap.alloc(len), dg = be.heap.alloc(c), db = be.heap.alloc(c);
      batchNormBackward(be, { n, c, s }, x, dy, gamma, mean, invstd, dx, dg, db, wholeBatch(be, n), scratchFor(be));
      const L = (xx: ArrayLike<number>, gg: ArrayLike<number>, bb: ArrayLike<number>) => dot(batchNormRef(n, c, s, xx, gg, bb, eps).y, DY);
      const ix = Array.from({ length: 8 }, () => randInt(rr, 0, len - 1));
      const ic = Array.from({ length: Math.min(c, 4) }, () => randInt(rr, 0, c - 1));
      expect(maxErrRatio(ix.map((i) => dx.view[i]), numericGrad((v) => L(v, G, Bt), X, ix, 1e-3), 2e-4, 2e-3)).toBeLessThanOrEqual(1);
      expect(maxErrRatio(ic.map((i) => dg.view[i]), numericGrad((v) => L(X, v, Bt), G, ic, 1e-3), 2e-4, 2e-3)).toBeLessThanOrEqual(1);
      expect(maxErrRatio(ic.map((i) => db.view[i]), numericGrad((v) => L(X, G, v), Bt, ic, 1e-3), 2e-4, 2e-3)).toBeLessThanOrEqual(1);

      // Inference with running stats = batch stats reproduces training output.
      const bm = be.heap.from(ref.mean), bv = be.heap.from(ref.var), y2 = be.heap.alloc(len);
      batchNormForwardInfer(be, { n, c, s }, x, y2, gamma, beta, bm, bv, eps);
      expect(maxErrRatio(y2.view, ref.y, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    });
  });

  it('peak_madd runs acc = acc * m + c on 12 vectors of 4 chains', () => {
    // 1 -> 1.5 -> 1.75 -> 1.875 in each of the 48 lanes.
    expect(be.k.peak_madd(3, 0.5, 1)).toBe(48 * 1.875);
    expect(be.k.peak_madd(0, 0.5, 1)).toBe(48);
  });

  describe('pairwise tree', () => {
    /** The tree by its definition: blocks of the binary form of rows from the first, each balanced, added from the last up. */
    const treeRef = (v: number[]): number => {
      const balanced = (a: number[]): number => (a.length === 1 ? a[0] : Math.fround(balanced(a.slice(0, a.length / 2)) + balanced(a.slice(a.length / 2))));
      const blocks: number[] = [];
      let start = 0;
      for (let bit = 30; bit >= 0; bit--) {
        if (v.length & (1 << bit)) {
          blocks.push(balanced(v.slice(start, start + (1 << bit))));
          start += 1 << bit;
        }
      }
      return blocks.reduceRight((acc, b) => Math.fround(b + acc));
    };
    it.each([1, 2, 3, 5, 6, 7, 8, 13, 16, 31, 33, 100, 128, 255])('rows=%i: pairwiseRows sums each column in the defined tree, to the bit', (rows) => {
      const rr = rng(rows);
      const cols = 1 + (rows % 11);
      // Values of mixed magnitude, so a different grouping would change the bits.
      const src = Float32Array.from({ length: rows * cols }, () => (rr() - 0.3) * 10 ** Math.floor(rr() * 6 - 2));
      const a = be.heap.from(src), out = be.heap.alloc(cols);
      pairwiseRows(be, a, rows, cols, out);
      for (let j = 0; j < cols; j++) {
        const col = Array.from({ length: rows }, (_, r) => src[r * cols + j]);
        expect(out.view[j]).toBe(treeRef(col));
      }
      a.free(); out.free();
    });

    // Workers sum the largest tree nodes their consecutive rows cover; the tree
    // finished from those nodes (the other rows garbage) is the same bits.
    it.each([[8, 2], [8, 3], [13, 2], [13, 3], [13, 4], [7, 5], [33, 4], [100, 3], [16, 16], [1, 1], [255, 7]])(
      'rows=%i cut among %i workers: their nodes summed first, pairwiseRowsPartial = the tree to the bit', (rows, workers) => {
        const rr = rng(rows * 7 + workers);
        const cols = 3 + (rows % 5);
        const src = Float32Array.from({ length: rows * cols }, () => (rr() - 0.3) * 10 ** Math.floor(rr() * 6 - 2));
        const nodes = Array.from({ length: workers }, (_, w) => treeNodes(rows, Math.floor((w * rows) / workers), Math.floor(((w + 1) * rows) / workers))).flat();
        // Nodes tile the rows in order, each inside one block of the tree, aligned to its size.
        expect(nodes.reduce((at, nd) => (expect(nd.start).toBe(at), at + 2 ** nd.level), 0)).toBe(rows);
        const partial = be.heap.alloc(rows * cols, NaN);
        for (const nd of nodes) {
          const size = 2 ** nd.level, node = be.heap.from(src.subarray(nd.start * cols, (nd.start + size) * cols)), sum = be.heap.alloc(cols);
          pairwiseRows(be, node, size, cols, sum);
          partial.view.set(sum.view, nd.start * cols);
          node.free(); sum.free();
        }
        const cover = be.heap.allocI32(rows);
        cover.set(coverLevels(rows, nodes));
        const out = be.heap.alloc(cols);
        pairwiseRowsPartial(be, partial, rows, cols, cover, out);
        for (let j = 0; j < cols; j++) expect(out.view[j]).toBe(treeRef(Array.from({ length: rows }, (_, r) => src[r * cols + j])));
        if (rows >= 4 * workers) expect(nodes.some((nd) => nd.level > 0)).toBe(true);
        [partial, cover, out].forEach((b) => b.free());
      });

    it('is not the sequential sum (which the reference would also catch)', () => {
      const rr = rng(99), rows = 100, cols = 50;
      const src = Float32Array.from({ length: rows * cols }, () => (rr() - 0.3) * 10 ** Math.floor(rr() * 6 - 2));
      const a = be.heap.from(src), out = be.heap.alloc(cols);
      pairwiseRows(be, a, rows, cols, out);
      const seq = Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, r) => src[r * cols + j]).reduce((x, y) => Math.fround(x + y)));
      expect(Array.from(out.view).filter((v, j) => v !== seq[j]).length).toBeGreaterThan(10);
      a.free(); out.free();
    });
  });

  describe('softmax cross-entropy', () => {
    it.each([[1, 10], [7, 3], [128, 10], [4, 1]])('n=%i k=%i: loss, gradient and probabilities', (n, k) => {
      const rr = rng(n + k);
      const Z = randArray(n * k, rr).map((v) => v * 5);
      const Lb = Int32Array.from({ length: n }, () => randInt(rr, 0, k - 1));
      const z = be.heap.from(Z), lab = be.heap.allocI32(n), dz = be.heap.alloc(n * k), p = be.heap.alloc(n * k), am = be.heap.allocI32(n);
      lab.set(Lb);
      const loss = softmaxCrossEntropy(be, z, lab, dz, n, k);
      expect(Math.abs(loss - xentRef(n, k, Z, Lb))).toBeLessThan(1e-5 * (1 + loss));
      const idx = Array.from({ length: 6 }, () => randInt(rr, 0, n * k - 1));
      const num = numericGrad((v) => xentRef(n, k, v, Lb), Z, idx, 1e-4);
      expect(maxErrRatio(idx.map((i) => dz.view[i]), num, 1e-5, 1e-3)).toBeLessThanOrEqual(1);
      softmax(be, z, p, n, k);
      for (let r = 0; r < n; r++) {
        const row = Array.from(p.view.subarray(r * k, r * k + k));
        expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
        const mx = Math.max(...Array.from(Z.subarray(r * k, r * k + k)));
        expect(maxErrRatio(row, Array.from(Z.subarray(r * k, r * k + k), (v) => Math.exp(v - mx) / Array.from(Z.subarray(r * k, r * k + k)).reduce((s, u) => s + Math.exp(u - mx), 0)), 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      }
      argmaxRows(be, z, am, n, k);
      for (let r = 0; r < n; r++) {
        const row = Array.from(Z.subarray(r * k, r * k + k));
        expect(am.view[r]).toBe(row.indexOf(Math.max(...row)));
      }
      lab.view[0] = k;
      expect(() => softmaxCrossEntropy(be, z, lab, dz, n, k)).toThrow(new RegExp(`label ${k} at row 0 is outside 0..${k - 1}`));
    });

    it('is stable for huge logits', () => {
      const z = be.heap.from([1000, -1000, 0]), lab = be.heap.allocI32(1), dz = be.heap.alloc(3);
      lab.set([1]);
      const loss = softmaxCrossEntropy(be, z, lab, dz, 1, 3);
      expect(loss).toBeCloseTo(2000, 2);
      expect(Array.from(dz.view).every(Number.isFinite)).toBe(true);
    });
  });

  describe('optimisers', () => {
    const len = 37;
    it.each([[0, 0, false], [0.9, 0, false], [0.9, 4e-4, false], [0.9, 1e-2, true]])('sgd momentum=%f wd=%f nesterov=%s matches PyTorch semantics over 3 steps', (mu, wd, nesterov) => {
      const rr = rng(3);
      const W = randArray(len, rr), w = be.heap.from(W), v = be.heap.alloc(len, 0);
      const refW = Float64Array.from(W), refV = new Float64Array(len);
      for (let step = 0; step < 3; step++) {
        const G = randArray(len, rr), g = be.heap.from(G);
        sgdUpdate(be, w, g, v, { lr: 0.1, momentum: mu, weightDecay: wd, nesterov });
        for (let i = 0; i < len; i++) {
          const gi = G[i] + wd * refW[i];
          refV[i] = step === 0 ? gi : mu * refV[i] + gi; // PyTorch: buf = g on the first step
          refW[i] -= 0.1 * (nesterov ? gi + mu * refV[i] : refV[i]);
        }
        g.free();
      }
      expect(maxErrRatio(w.view, refW, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    });

    it.each([[false, 0], [false, 0.01], [true, 0.01]])('adam decoupled=%s wd=%f matches the reference over 3 steps', (decoupled, wd) => {
      const rr = rng(4);
      const W = randArray(len, rr), w = be.heap.from(W), m = be.heap.alloc(len, 0), v = be.heap.alloc(len, 0);
      const rw = Float64Array.from(W), rm = new Float64Array(len), rv = new Float64Array(len);
      const [lr, b1, b2, eps] = [1e-2, 0.9, 0.999, 1e-8];
      for (let t = 1; t <= 3; t++) {
        const G = randArray(len, rr), g = be.heap.from(G);
        adamUpdate(be, w, g, m, v, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, decoupled, step: t });
        for (let i = 0; i < len; i++) {
          let gi = G[i];
          if (decoupled) rw[i] *= 1 - lr * wd; else gi += wd * rw[i];
          rm[i] = b1 * rm[i] + (1 - b1) * gi;
          rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
          rw[i] -= (lr * rm[i] / (1 - b1 ** t)) / (Math.sqrt(rv[i] / (1 - b2 ** t)) + eps);
        }
        g.free();
      }
      expect(maxErrRatio(w.view, rw, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    });
  });
});

it('dropout masks are identical on the SIMD and scalar builds', () => {
  const masks = backends.map((be) => {
    const x = be.heap.alloc(1001, 1), y = be.heap.alloc(1001), mask = be.heap.alloc(1001);
    dropoutForward(be, x, y, mask, 0.5, 987654321);
    return Array.from(mask.view);
  });
  expect(masks[0]).toEqual(masks[1]);
});
