/**
 * Batch normalisation over channels: (C, H, W) inputs normalise per channel over
 * batch and space, (D) inputs per feature. Running statistics use PyTorch's
 * convention: r = (1 - momentum) r + momentum * batch (momentum 0.1), unbiased
 * variance for the running estimate.
 */
import type { F32Buffer } from '../backend/memory.js';
import { batchNormBackward, batchNormForwardInfer, batchNormForwardTrain, type BatchNormShape } from '../kernels/norm.js';
import { Layer, type BackwardContext, type ForwardContext, type Param, type Shape } from './layer.js';

/** Options of {@link batchNormalization}. */
export interface BatchNormOptions {
  /** Weight of the current batch in the running statistics (default 0.1). */
  momentum?: number;
  epsilon?: number;
  name?: string;
}

export class BatchNormalization extends Layer {
  readonly kind = 'batchNormalization';
  readonly momentum: number;
  readonly epsilon: number;
  private gamma!: Param;
  private beta!: Param;
  private runningMean!: Param;
  private runningVar!: Param;
  private x: F32Buffer | null = null;

  constructor(o: BatchNormOptions = {}) {
    super(o.name);
    this.momentum = o.momentum ?? 0.1;
    this.epsilon = o.epsilon ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`batchNormalization: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`batchNormalization: epsilon must be > 0, got ${this.epsilon}`);
  }

  protected computeOutputShape(s: Shape): Shape {
    if (s.length !== 3 && s.length !== 1) this.shapeError(s, '(channels, height, width) or (features)');
    const c = s[0];
    this.gamma = this.param('gamma', [c], true);
    this.beta = this.param('beta', [c], true);
    this.runningMean = this.param('runningMean', [c], false);
    this.runningVar = this.param('runningVar', [c], false);
    this.gamma.value.fill(1);
    this.runningVar.value.fill(1);
    return [...s];
  }

  private shape(n: number): BatchNormShape {
    const s = this.inputShape;
    return { n, c: s[0], s: s.length === 3 ? s[1] * s[2] : 1 };
  }

  private readonly scratch = (key: string, length: number) => this.buffer(key, length);

  forward(x: F32Buffer, n: number, ctx: ForwardContext): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    const c = this.inputShape[0];
    if (ctx.training) {
      batchNormForwardTrain(this.be, this.shape(n), x, y, this.gamma.value, this.beta.value, this.buffer('mean', c), this.buffer('invstd', c),
        this.runningMean.value, this.runningVar.value, this.momentum, this.epsilon, this.shardOf(ctx, n), this.scratch);
      this.x = x;
    } else {
      batchNormForwardInfer(this.be, this.shape(n), x, y, this.gamma.value, this.beta.value, this.runningMean.value, this.runningVar.value, this.epsilon);
      this.x = null;
    }
    return y;
  }

  backward(dy: F32Buffer, n: number, _needDx: boolean, ctx?: BackwardContext): F32Buffer | null {
    if (!this.x) throw new Error(`layer '${this.name}': backward without a training forward`);
    const c = this.inputShape[0];
    // dgamma/dbeta must be computed even for the first layer, so dx is always produced.
    const dx = this.buffer('dx', n * this.inputSize);
    batchNormBackward(this.be, this.shape(n), this.x, dy, this.gamma.value, this.buffer('mean', c), this.buffer('invstd', c), dx,
      this.gamma.grad!, this.beta.grad!, this.shardOf(ctx, n), this.scratch);
    return dx;
  }

  /** Per-image sums of each channel (forward), and of two per channel (backward: dgamma's and dbeta's). */
  override get reducedColumns(): number {
    return 2 * this.inputShape[0];
  }

  /** gamma and beta gradients come from batch totals, complete in every shard: none is per leaf. */
  override leafParams(): Param[] {
    return [];
  }

  override params(): Param[] {
    return [this.gamma, this.beta, this.runningMean, this.runningVar];
  }

  config(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, momentum: this.momentum, epsilon: this.epsilon };
  }
}
