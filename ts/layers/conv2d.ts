/** 2-D convolution layer (NCHW), optional fused relu. Weights [F, C, KH, KW], bias [F]. */
import type { F32Buffer } from '../backend/memory.js';
import { checkInitializer, initialize, type Initializer } from '../init.js';
import { conv2dBackward, conv2dForward, conv2dForwardPool2, convGeometry, convPool2WorkspaceSize, convWorkspaceSize, type ConvGeometry, type Padding } from '../kernels/conv.js';
import { reluBackward } from '../kernels/elementwise.js';
import { checkActivation, fmtShape, Layer, type Activation, type BackwardContext, type BuildContext, type ForwardContext, type Param, type Shape } from './layer.js';

/** Options of {@link conv2d}, Keras-style. */
export interface Conv2DOptions {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  activation?: Activation;
  useBias?: boolean;
  /** Default: heNormal with relu, glorotUniform otherwise. */
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  name?: string;
}

export const pair = (v: number | readonly number[], what: string, where: string): [number, number] => {
  const p = typeof v === 'number' ? [v, v] : [...v];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new Error(`${where}: ${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p as [number, number];
};

export class Conv2D extends Layer {
  readonly kind = 'conv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly activation: Activation;
  readonly useBias: boolean;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  private geom!: ConvGeometry;
  private kernel!: Param;
  private bias: Param | null = null;
  private x: F32Buffer | null = null;
  private kept = false;
  /** Leaf sizes of the last training forward. */
  private leaves: number[] = [];
  /**
   * Whether a training forward keeps what the backward pass would otherwise
   * recompute: the im2col matrices of the convolutions that have them (more
   * memory: C*KH*KW*OH*OW floats per image; only padded 1x1 windows and
   * windows covering the whole padded input have them), the zero-padded input of
   * the other padded ones (kept in their workspace either way).
   */
  keepIm2col = true;

  constructor(o: Conv2DOptions) {
    super(o.name);
    const where = `conv2d${o.name ? ` '${o.name}'` : ''}`;
    if (!Number.isInteger(o.filters) || o.filters < 1) throw new Error(`${where}: filters must be a positive integer, got ${o.filters}`);
    this.filters = o.filters;
    this.kernelSize = pair(o.kernelSize, 'kernelSize', where);
    this.strides = pair(o.strides ?? 1, 'strides', where);
    this.padding = o.padding ?? 'valid';
    this.activation = checkActivation(o.activation, where);
    this.useBias = o.useBias ?? true;
    this.kernelInitializer = checkInitializer(o.kernelInitializer ?? (this.activation === 'relu' ? 'heNormal' : 'glorotUniform'), where);
    this.biasInitializer = checkInitializer(o.biasInitializer ?? 'zeros', where);
  }

  protected computeOutputShape(s: Shape, ctx: BuildContext): Shape {
    if (s.length !== 3) this.shapeError(s, '(channels, height, width)');
    try {
      this.geom = convGeometry([1, s[0], s[1], s[2]], this.filters, this.kernelSize, this.strides, this.padding);
    } catch (e) {
      throw new Error(`layer '${this.name}' (conv2d): input shape ${fmtShape(s)}: ${(e as Error).message}`);
    }
    const g = this.geom;
    const [kh, kw] = this.kernelSize;
    this.kernel = this.param('kernel', [g.f, g.c, kh, kw], true);
    initialize(this.kernelInitializer, this.kernel.value.view, g.c * kh * kw, g.f * kh * kw, ctx.rng);
    if (this.useBias) {
      this.bias = this.param('bias', [g.f], true);
      initialize(this.biasInitializer, this.bias.value.view, g.c * kh * kw, g.f, ctx.rng);
    }
    return [g.f, g.oh, g.ow];
  }

  forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    this.x = ctx.training ? x : null;
    if (!ctx.training) {
      this.kept = false;
      const g = { ...this.geom, n };
      const work = this.buffer('work', convWorkspaceSize(this.be, g, false));
      conv2dForward(this.be, g, x, this.kernel.value, this.bias?.value ?? null, y, work, false, this.activation === 'relu');
    } else {
      // Leaf by leaf, each leaf's im2col kept in its own part of the workspace
      // for backward, which computes each leaf's weight gradients on their own.
      this.kept = this.keepIm2col;
      this.leaves = [...this.shardOf(ctx, n).leaves];
      const per = this.leafWorkspace(this.leaves);
      const work = this.buffer('work', per * this.leaves.length);
      let at = 0;
      this.leaves.forEach((ln, j) => {
        conv2dForward(this.be, { ...this.geom, n: ln }, x.sub(at * this.inputSize, ln * this.inputSize), this.kernel.value, this.bias?.value ?? null,
          y.sub(at * this.outputSize, ln * this.outputSize), work.sub(j * per, per), this.kept, this.activation === 'relu');
        at += ln;
      });
    }
    return y;
  }

  /**
   * Inference with other weights of this layer's shapes (batch norm folded
   * into them, see engine/net.ts), a relu if `relu` and, if `pool2`, the 2x2
   * max pooling (stride 2) after it (see `canPool2`); returns the output buffer.
   */
  inferWith(x: F32Buffer, n: number, kernel: F32Buffer, bias: F32Buffer | null, relu: boolean, pool2 = false): F32Buffer {
    const g = { ...this.geom, n };
    this.x = null;
    if (pool2) {
      const y = this.buffer('yPool2', n * this.geom.f * Math.floor(this.geom.oh / 2) * Math.floor(this.geom.ow / 2));
      conv2dForwardPool2(this.be, g, x, kernel, bias, y, this.buffer('work', convPool2WorkspaceSize(this.be, g)), relu);
      return y;
    }
    const y = this.buffer('y', n * this.outputSize);
    conv2dForward(this.be, g, x, kernel, bias, y, this.buffer('work', convWorkspaceSize(this.be, g, false)), false, relu);
    return y;
  }

  /** Whether the kernels can fuse a 2x2 max pooling (stride 2) after this convolution into it at inference. */
  get canPool2(): boolean {
    return convPool2WorkspaceSize(this.be, { ...this.geom, n: 1 }) > 0;
  }

  /** Output channels and the values of the kernel per channel (its rows: [F, C*KH*KW]). */
  get foldLayout(): { channels: number; kernel: Param; bias: Param | null; perChannel: 'rows' } {
    return { channels: this.geom.f, kernel: this.kernel, bias: this.bias, perChannel: 'rows' };
  }

  /** Workspace floats one leaf needs (the largest leaf's). */
  private leafWorkspace(leaves: number[]): number {
    return convWorkspaceSize(this.be, { ...this.geom, n: Math.max(...leaves) }, this.kept);
  }

  backward(dy: F32Buffer, n: number, needDx: boolean, ctx?: BackwardContext): F32Buffer | null {
    if (!this.x || this.leaves.length === 0) throw new Error(`layer '${this.name}': backward without a training forward`);
    let grad = dy;
    if (this.activation === 'relu') {
      grad = this.buffer('dpre', n * this.outputSize);
      reluBackward(this.be, this.buffer('y', 0), dy, grad, n * this.outputSize);
    }
    const dx = needDx ? this.buffer('dx', n * this.inputSize) : null;
    const per = this.leafWorkspace(this.leaves);
    const work = this.buffer('work', per * this.leaves.length);
    const L = this.leaves.length;
    let at = 0;
    this.leaves.forEach((ln, j) => {
      conv2dBackward(this.be, { ...this.geom, n: ln }, this.x!.sub(at * this.inputSize, ln * this.inputSize), this.kernel.value,
        grad.sub(at * this.outputSize, ln * this.outputSize), dx ? dx.sub(at * this.inputSize, ln * this.inputSize) : null,
        this.leafGrad(this.kernel, L, j), this.bias ? this.leafGrad(this.bias, L, j) : null, work.sub(j * per, per), this.kept);
      at += ln;
    });
    this.completeGrads(ctx, L);
    return dx;
  }

  override params(): Param[] {
    return this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  config(): Record<string, unknown> {
    return {
      kind: this.kind, name: this.name, filters: this.filters, kernelSize: this.kernelSize, strides: this.strides,
      padding: this.padding, activation: this.activation, useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer,
    };
  }
}
