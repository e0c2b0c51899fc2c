/**
 * The public layer classes keep their own contract when run on their own
 * (as the seed notebooks gradient-check one layer): forward, then backward
 * without a step context, leaves every trainable parameter's `grad` complete
 * over the batch. Checked against the float64 references (test/reference)
 * and, for batch norm, its analytic gradient in float64; on both builds, with
 * batches of more than one gradient leaf (16 images).
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../ts/backend/load.js';
import { batchNormalization, conv2d, dense } from '../ts/layers/index.js';
import type { Layer } from '../ts/layers/layer.js';
import { convGeometry } from '../ts/kernels/conv.js';
import { Rng } from '../ts/rng.js';
import { convBackwardRef } from './reference/nn.js';
import { allBackends, maxErrRatio, randArray, rng } from './helpers.js';

const backends = await allBackends();

/** Runs layer's training forward on x, then its own backward with dy; returns dx and the parameters' grads. */
function runAlone(be: Backend, layer: Layer, shape: number[], n: number, x: Float32Array, dy: Float32Array, setUp?: (l: Layer) => void) {
  layer.build(shape, { backend: be, rng: new Rng(3) });
  setUp?.(layer);
  const xb = be.heap.from(x), dyb = be.heap.from(dy);
  layer.forward(xb, n, { training: true, stepSeed: 1 });
  const dx = layer.backward(dyb, n, true);
  const out = { dx: Float32Array.from(dx!.view.subarray(0, n * layer.inputSize)), grads: new Map(layer.params().filter((p) => p.grad).map((p) => [p.name.split('/')[1], Float32Array.from(p.grad!.view)])) };
  xb.free();
  dyb.free();
  return out;
}
const weight = (l: Layer, name: string) => Float32Array.from(l.params().find((p) => p.name.endsWith(`/${name}`))!.value.view);

describe.each(backends.map((b) => [b.name, b] as const))('%s build: one layer on its own', (_name, be) => {
  const r = rng(11);

  it('conv2d (3 channels in, stride 2, same padding): dW, db and dx over 40 images match float64', () => {
    const n = 40, l = conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' });
    const g = convGeometry([n, 3, 9, 9], 5, [3, 3], [2, 2], 'same');
    const x = randArray(n * 3 * 9 * 9, r), dy = randArray(n * g.f * g.oh * g.ow, r);
    const got = runAlone(be, l, [3, 9, 9], n, x, dy);
    const ref = convBackwardRef(g, x, weight(l, 'kernel'), dy);
    expect(maxErrRatio(got.grads.get('kernel')!, ref.dw, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(got.grads.get('bias')!, ref.db, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(got.dx, ref.dx, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    l.dispose();
  });

  it('dense: dW = x^T dy, db = column sums, dx = dy W^T over 37 examples', () => {
    const n = 37, d = 20, u = 7, l = dense({ units: u });
    const x = randArray(n * d, r), dy = randArray(n * u, r);
    const got = runAlone(be, l, [d], n, x, dy);
    const w = weight(l, 'kernel');
    const dw = new Float64Array(d * u), db = new Float64Array(u), dx = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < u; j++) {
      db[j] += dy[i * u + j];
      for (let k = 0; k < d; k++) { dw[k * u + j] += x[i * d + k] * dy[i * u + j]; dx[i * d + k] += dy[i * u + j] * w[k * u + j]; }
    }
    expect(maxErrRatio(got.grads.get('kernel')!, dw, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(got.grads.get('bias')!, db, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(got.dx, dx, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    l.dispose();
  });

  it('batchNormalization: dgamma, dbeta and dx over 33 images of 4 channels match the analytic float64 gradient', () => {
    const n = 33, c = 4, s = 6, m = n * s, eps = 1e-5, l = batchNormalization({ epsilon: eps });
    const x = randArray(n * c * s, r), dy = randArray(n * c * s, r);
    const got = runAlone(be, l, [c, 2, 3], n, x, dy, (layer) => layer.params().find((p) => p.name.endsWith('/gamma'))!.value.set(Float32Array.from({ length: c }, (_, i) => 0.5 + i * 0.25)));
    const gamma = weight(l, 'gamma');
    for (let ch = 0; ch < c; ch++) {
      const at = (i: number, k: number) => (i * c + ch) * s + k;
      let mean = 0, vr = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) mean += x[at(i, k)];
      mean /= m;
      for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) vr += (x[at(i, k)] - mean) ** 2;
      const inv = 1 / Math.sqrt(vr / m + eps);
      let sdy = 0, sdyx = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) { sdy += dy[at(i, k)]; sdyx += dy[at(i, k)] * (x[at(i, k)] - mean) * inv; }
      expect(got.grads.get('beta')![ch]).toBeCloseTo(sdy, 3);
      expect(got.grads.get('gamma')![ch]).toBeCloseTo(sdyx, 3);
      const dx = new Float64Array(n * s), gotDx = new Float64Array(n * s);
      for (let i = 0; i < n; i++) for (let k = 0; k < s; k++) {
        const xh = (x[at(i, k)] - mean) * inv;
        dx[i * s + k] = (gamma[ch] * inv / m) * (m * dy[at(i, k)] - sdy - xh * sdyx);
        gotDx[i * s + k] = got.dx[at(i, k)];
      }
      expect(maxErrRatio(gotDx, dx, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    }
    l.dispose();
  });
});
