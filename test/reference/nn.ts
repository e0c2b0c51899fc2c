/**
 * Naive references written straight from the math, in f64, one loop per index.
 * Nothing here shares code with the kernels (no im2col, no packing).
 */
import type { ConvGeometry } from '../../ts/kernels/conv.js';

type Arr = ArrayLike<number>;

/** y[n,f,oy,ox] = b[f] + sum_{c,ky,kx} w[f,c,ky,kx] * x[n,c,oy*sh-ph+ky,ox*sw-pw+kx]. */
export function convForwardRef(g: ConvGeometry, x: Arr, w: Arr, b: Arr | null): Float64Array {
  const y = new Float64Array(g.n * g.f * g.oh * g.ow);
  for (let n = 0; n < g.n; n++) for (let f = 0; f < g.f; f++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    let s = b ? b[f] : 0;
    for (let c = 0; c < g.c; c++) for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
      const iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      s += w[((f * g.c + c) * g.kh + ky) * g.kw + kx] * x[((n * g.c + c) * g.h + iy) * g.w + ix];
    }
    y[((n * g.f + f) * g.oh + oy) * g.ow + ox] = s;
  }
  return y;
}

/** dx, dw, db of convForwardRef for upstream gradient dy (scatter form of the chain rule). */
export function convBackwardRef(g: ConvGeometry, x: Arr, w: Arr, dy: Arr): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(g.n * g.c * g.h * g.w);
  const dw = new Float64Array(g.f * g.c * g.kh * g.kw);
  const db = new Float64Array(g.f);
  for (let n = 0; n < g.n; n++) for (let f = 0; f < g.f; f++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    const d = dy[((n * g.f + f) * g.oh + oy) * g.ow + ox];
    db[f] += d;
    for (let c = 0; c < g.c; c++) for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
      const iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      const wi = ((f * g.c + c) * g.kh + ky) * g.kw + kx, xi = ((n * g.c + c) * g.h + iy) * g.w + ix;
      dw[wi] += d * x[xi];
      dx[xi] += d * w[wi];
    }
  }
  return { dx, dw, db };
}

/** Pooling over planes: max (first max wins) or mean. Returns y and, for max, argmax. */
export function poolForwardRef(kind: 'max' | 'avg', planes: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, x: Arr) {
  const oh = Math.floor((h - kh) / sh) + 1, ow = Math.floor((w - kw) / sw) + 1;
  const y = new Float64Array(planes * oh * ow);
  const arg = new Int32Array(planes * oh * ow);
  for (let p = 0; p < planes; p++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    let best = -Infinity, at = -1, sum = 0;
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const idx = (oy * sh + ky) * w + ox * sw + kx;
      const v = x[p * h * w + idx];
      sum += v;
      if (v > best) { best = v; at = idx; }
    }
    const o = (p * oh + oy) * ow + ox;
    y[o] = kind === 'max' ? best : sum / (kh * kw);
    arg[o] = at;
  }
  return { y, arg, oh, ow };
}

/** Batch norm over [n, c, s], training mode (biased variance). */
export function batchNormRef(n: number, c: number, s: number, x: Arr, gamma: Arr, beta: Arr, eps: number) {
  const y = new Float64Array(n * c * s), mean = new Float64Array(c), varr = new Float64Array(c);
  const m = n * s;
  for (let ci = 0; ci < c; ci++) {
    let mu = 0;
    for (let ni = 0; ni < n; ni++) for (let i = 0; i < s; i++) mu += x[(ni * c + ci) * s + i];
    mu /= m;
    let v = 0;
    for (let ni = 0; ni < n; ni++) for (let i = 0; i < s; i++) v += (x[(ni * c + ci) * s + i] - mu) ** 2;
    v /= m;
    mean[ci] = mu; varr[ci] = v;
    for (let ni = 0; ni < n; ni++) for (let i = 0; i < s; i++) {
      const j = (ni * c + ci) * s + i;
      y[j] = gamma[ci] * (x[j] - mu) / Math.sqrt(v + eps) + beta[ci];
    }
  }
  return { y, mean, var: varr };
}

/** Mean softmax cross-entropy of rows of logits [n, k] vs labels. */
export function xentRef(n: number, k: number, logits: Arr, labels: Arr): number {
  let total = 0;
  for (let r = 0; r < n; r++) {
    let mx = -Infinity;
    for (let j = 0; j < k; j++) mx = Math.max(mx, logits[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[r * k + j] - mx);
    total += Math.log(s) + mx - logits[r * k + labels[r]];
  }
  return total / n;
}

/**
 * Central differences of a scalar function f at `x` for the given indices:
 * (f(x + h e_i) - f(x - h e_i)) / 2h, evaluated in f64.
 */
export function numericGrad(f: (x: Float64Array) => number, x: ArrayLike<number>, indices: number[], h = 1e-4): number[] {
  const xx = Float64Array.from(x);
  return indices.map((i) => {
    const v = xx[i];
    xx[i] = v + h; const fp = f(xx);
    xx[i] = v - h; const fm = f(xx);
    xx[i] = v;
    return (fp - fm) / (2 * h);
  });
}

/** sum(a * b) in f64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
