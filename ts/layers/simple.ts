/** Parameter-free layers: relu, flatten, dropout, zeroPadding2d. */
import type { F32Buffer } from '../backend/memory.js';
import { dropoutForward, mulElementwise, reluBackward, reluForward } from '../kernels/elementwise.js';
import { padBackward, padForward, type PadGeometry } from '../kernels/pool.js';
import { Layer, type ForwardContext, type Shape } from './layer.js';

/** Element-wise max(x, 0). */
export class ReLU extends Layer {
  readonly kind = 'relu';
  constructor(o: { name?: string } = {}) {
    super(o.name);
  }
  protected computeOutputShape(s: Shape): Shape {
    return [...s];
  }
  forward(x: F32Buffer, n: number): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    reluForward(this.be, x, y, n * this.outputSize);
    return y;
  }
  backward(dy: F32Buffer, n: number, needDx: boolean): F32Buffer | null {
    if (!needDx) return null;
    const dx = this.buffer('dx', n * this.inputSize);
    reluBackward(this.be, this.buffer('y', 0), dy, dx, n * this.inputSize);
    return dx;
  }
  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name };
  }
}

/** Reshape (C, H, W) -> (C*H*W). NCHW is already contiguous, so nothing moves. */
export class Flatten extends Layer {
  readonly kind = 'flatten';
  constructor(o: { name?: string } = {}) {
    super(o.name);
  }
  protected computeOutputShape(s: Shape): Shape {
    return [s.reduce((a, b) => a * b, 1)];
  }
  forward(x: F32Buffer): F32Buffer {
    return x;
  }
  backward(dy: F32Buffer, _n: number, needDx: boolean): F32Buffer | null {
    return needDx ? dy : null;
  }
  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name };
  }
}

/** Inverted dropout: in training, zeroes each value with probability `rate` and scales the rest by 1/(1-rate). */
export class Dropout extends Layer {
  readonly kind = 'dropout';
  readonly rate: number;
  /** Position in the model, mixed into the per-step seed so layers draw different masks. */
  index = 0;
  private active = false;

  constructor(o: { rate: number; name?: string }) {
    super(o.name);
    if (!(o.rate >= 0 && o.rate < 1)) throw new Error(`dropout${o.name ? ` '${o.name}'` : ''}: rate must be in [0, 1), got ${o.rate}`);
    this.rate = o.rate;
  }
  protected computeOutputShape(s: Shape): Shape {
    return [...s];
  }
  forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer {
    this.active = ctx.training && this.rate > 0;
    if (!this.active) return x;
    const len = n * this.outputSize;
    const y = this.buffer('y', len);
    const seed = (ctx.stepSeed + (this.index + 1) * 0x9e3779b1) % 2 ** 53;
    // Masks are drawn by element index in the whole batch, whichever shard this is.
    dropoutForward(this.be, x, y, this.buffer('mask', len), 1 - this.rate, seed, len, (ctx.shard?.offset ?? 0) * this.outputSize);
    return y;
  }
  backward(dy: F32Buffer, n: number, needDx: boolean): F32Buffer | null {
    if (!needDx) return null;
    if (!this.active) return dy;
    const len = n * this.inputSize;
    const dx = this.buffer('dx', len);
    mulElementwise(this.be, dy, this.buffer('mask', 0), dx, len);
    return dx;
  }
  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, rate: this.rate };
  }
}

/**
 * Padding of images: `padding` rows/cols on each side, or [[top, bottom], [left, right]].
 * The padded value is 0 unless `value` is given — e.g. the normalised background
 * (-mean/std), which is what padding the raw image before normalising gives.
 */
export class ZeroPadding2D extends Layer {
  readonly kind = 'zeroPadding2d';
  readonly padding: [[number, number], [number, number]];
  readonly value: number;
  private geom!: PadGeometry;

  constructor(o: { padding?: number | [number, number] | [[number, number], [number, number]]; value?: number; name?: string } = {}) {
    super(o.name);
    this.value = o.value ?? 0;
    if (!Number.isFinite(this.value)) throw new Error(`zeroPadding2d: value must be a finite number, got ${o.value}`);
    const p = o.padding ?? 1;
    const norm: unknown = typeof p === 'number' ? [[p, p], [p, p]] : typeof p[0] === 'number' ? [[p[0], p[0]], [p[1], p[1]]] : p;
    const flat = (norm as number[][]).flat();
    if (flat.length !== 4 || !flat.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(`zeroPadding2d: padding must be a non-negative integer, [rows, cols] or [[top, bottom], [left, right]], got ${JSON.stringify(p)}`);
    }
    this.padding = norm as [[number, number], [number, number]];
  }
  protected computeOutputShape(s: Shape): Shape {
    if (s.length !== 3) this.shapeError(s, '(channels, height, width)');
    const [[t, b], [l, r]] = this.padding;
    this.geom = { planes: s[0], h: s[1], w: s[2], top: t, left: l, oh: s[1] + t + b, ow: s[2] + l + r };
    return [s[0], this.geom.oh, this.geom.ow];
  }
  forward(x: F32Buffer, n: number): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    padForward(this.be, { ...this.geom, planes: n * this.inputShape[0] }, x, y, this.value);
    return y;
  }
  backward(dy: F32Buffer, n: number, needDx: boolean): F32Buffer | null {
    if (!needDx) return null;
    const dx = this.buffer('dx', n * this.inputSize);
    padBackward(this.be, { ...this.geom, planes: n * this.inputShape[0] }, dy, dx);
    return dx;
  }
  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, padding: this.padding, value: this.value };
  }
}
