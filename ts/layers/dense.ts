/** Fully connected layer: y = x W + b, W [in, out]; optional fused relu. */
import type { F32Buffer } from '../backend/memory.js';
import { checkInitializer, initialize, type Initializer } from '../init.js';
import { denseForward, gemm } from '../kernels/gemm.js';
import { biasGradRows, reluBackward } from '../kernels/elementwise.js';
import { checkActivation, Layer, type Activation, type BackwardContext, type BuildContext, type ForwardContext, type Param, type Shape } from './layer.js';

/** Options of {@link dense}. */
export interface DenseOptions {
  units: number;
  activation?: Activation;
  useBias?: boolean;
  /** Default: heNormal with relu, glorotUniform otherwise. */
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  name?: string;
}

export class Dense extends Layer {
  readonly kind = 'dense';
  readonly units: number;
  readonly activation: Activation;
  readonly useBias: boolean;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  private kernel!: Param;
  private bias: Param | null = null;
  private x: F32Buffer | null = null;

  constructor(o: DenseOptions) {
    super(o.name);
    const where = `dense${o.name ? ` '${o.name}'` : ''}`;
    if (!Number.isInteger(o.units) || o.units < 1) throw new Error(`${where}: units must be a positive integer, got ${o.units}`);
    this.units = o.units;
    this.activation = checkActivation(o.activation, where);
    this.useBias = o.useBias ?? true;
    this.kernelInitializer = checkInitializer(o.kernelInitializer ?? (this.activation === 'relu' ? 'heNormal' : 'glorotUniform'), where);
    this.biasInitializer = checkInitializer(o.biasInitializer ?? 'zeros', where);
  }

  protected computeOutputShape(s: Shape, ctx: BuildContext): Shape {
    if (s.length !== 1) this.shapeError(s, '(features) — add flatten() before dense');
    const d = s[0];
    this.kernel = this.param('kernel', [d, this.units], true);
    initialize(this.kernelInitializer, this.kernel.value.view, d, this.units, ctx.rng);
    if (this.useBias) {
      this.bias = this.param('bias', [this.units], true);
      initialize(this.biasInitializer, this.bias.value.view, d, this.units, ctx.rng);
    }
    return [this.units];
  }

  forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer {
    const d = this.inputShape[0], u = this.units;
    const y = this.buffer('y', n * u);
    denseForward(this.be, x, this.kernel.value, this.bias?.value ?? null, y, n, d, u, this.activation === 'relu');
    this.x = ctx.training ? x : null;
    return y;
  }

  backward(dy: F32Buffer, n: number, needDx: boolean, ctx?: BackwardContext): F32Buffer | null {
    if (!this.x) throw new Error(`layer '${this.name}': backward without a training forward`);
    const d = this.inputShape[0], u = this.units;
    let grad = dy;
    if (this.activation === 'relu') {
      grad = this.buffer('dpre', n * u);
      reluBackward(this.be, this.buffer('y', 0), dy, grad, n * u);
    }
    // Per leaf: dW [d, u] = x^T [d, ln] . grad [ln, u];  db = column sums.  dx [n, d] = grad . W^T
    const leaves = this.shardOf(ctx, n).leaves, L = leaves.length;
    let at = 0;
    leaves.forEach((ln, j) => {
      const gl = grad.sub(at * u, ln * u);
      gemm(this.be, { m: d, n: u, k: ln, transA: true }, this.x!.sub(at * d, ln * d), gl, this.leafGrad(this.kernel, L, j));
      if (this.bias) biasGradRows(this.be, gl, this.leafGrad(this.bias, L, j), ln, u);
      at += ln;
    });
    this.completeGrads(ctx, L);
    if (!needDx) return null;
    const dx = this.buffer('dx', n * d);
    gemm(this.be, { m: n, n: d, k: u, transB: true }, grad, this.kernel.value, dx);
    return dx;
  }

  /** Inference with other weights of this layer's shapes (batch norm folded in) and a relu if `relu`. */
  inferWith(x: F32Buffer, n: number, kernel: F32Buffer, bias: F32Buffer | null, relu: boolean, pool2 = false): F32Buffer {
    if (pool2) throw new Error(`layer '${this.name}' (dense): no pooling to fuse`);
    const d = this.inputShape[0], u = this.units;
    const y = this.buffer('y', n * u);
    denseForward(this.be, x, kernel, bias, y, n, d, u, relu);
    this.x = null;
    return y;
  }

  /** Output channels and the kernel's layout per channel (its columns: [in, out]). */
  get foldLayout(): { channels: number; kernel: Param; bias: Param | null; perChannel: 'columns' } {
    return { channels: this.units, kernel: this.kernel, bias: this.bias, perChannel: 'columns' };
  }

  override params(): Param[] {
    return this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  config(): Record<string, unknown> {
    return {
      kind: this.kind, name: this.name, units: this.units, activation: this.activation, useBias: this.useBias,
      kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer,
    };
  }
}
