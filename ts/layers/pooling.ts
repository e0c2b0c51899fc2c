/** Max and average pooling layers ('valid' windows over each channel). */
import type { F32Buffer } from '../backend/memory.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward, poolGeometry, type PoolGeometry } from '../kernels/pool.js';
import { pair } from './conv2d.js';
import { fmtShape, Layer, type ForwardContext, type Shape } from './layer.js';

/** Options of {@link maxPooling2d} / {@link averagePooling2d}. */
export interface Pooling2DOptions {
  /** Window (default 2). */
  poolSize?: number | [number, number];
  /** Default: the window size (non-overlapping). */
  strides?: number | [number, number];
  name?: string;
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  protected geom!: PoolGeometry;

  constructor(o: Pooling2DOptions, kind: string) {
    super(o.name);
    const where = `${kind}${o.name ? ` '${o.name}'` : ''}`;
    this.poolSize = pair(o.poolSize ?? 2, 'poolSize', where);
    this.strides = pair(o.strides ?? this.poolSize, 'strides', where);
  }

  protected computeOutputShape(s: Shape): Shape {
    if (s.length !== 3) this.shapeError(s, '(channels, height, width)');
    try {
      this.geom = poolGeometry(s[0], s[1], s[2], this.poolSize, this.strides);
    } catch (e) {
      throw new Error(`layer '${this.name}' (${this.kind}): input shape ${fmtShape(s)}: ${(e as Error).message}`);
    }
    return [s[0], this.geom.oh, this.geom.ow];
  }

  protected geomFor(n: number): PoolGeometry {
    return { ...this.geom, planes: n * this.inputShape[0] };
  }

  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, poolSize: this.poolSize, strides: this.strides };
  }
}

export class MaxPooling2D extends Pooling2D {
  readonly kind = 'maxPooling2d';
  constructor(o: Pooling2DOptions = {}) {
    super(o, 'maxPooling2d');
  }

  forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    // Inference needs no argmax (it serves backward only).
    maxPoolForward(this.be, this.geomFor(n), x, y, ctx.training ? this.bufferI32('argmax', n * this.outputSize) : null);
    return y;
  }

  backward(dy: F32Buffer, n: number, needDx: boolean): F32Buffer | null {
    if (!needDx) return null;
    const dx = this.buffer('dx', n * this.inputSize);
    maxPoolBackward(this.be, this.geomFor(n), dy, this.bufferI32('argmax', 0), dx);
    return dx;
  }
}

export class AveragePooling2D extends Pooling2D {
  readonly kind = 'averagePooling2d';
  constructor(o: Pooling2DOptions = {}) {
    super(o, 'averagePooling2d');
  }

  forward(x: F32Buffer, n: number): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    avgPoolForward(this.be, this.geomFor(n), x, y);
    return y;
  }

  backward(dy: F32Buffer, n: number, needDx: boolean): F32Buffer | null {
    if (!needDx) return null;
    const dx = this.buffer('dx', n * this.inputSize);
    avgPoolBackward(this.be, this.geomFor(n), dy, dx);
    return dx;
  }
}

