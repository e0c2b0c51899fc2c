/**
 * Optimisers: SGD (momentum, Nesterov, weight decay; PyTorch semantics) and
 * Adam/AdamW. State (momentum, moments) lives in wasm memory next to the
 * parameters, allocated on the first step, and can be saved in the model file.
 */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { adamUpdate, sgdUpdate } from '../kernels/optim.js';
import type { Param } from '../layers/layer.js';
import { checkLearningRate, learningRateAt, type LearningRate } from './schedule.js';

/** Options of {@link sgd}. */
export interface SgdOptions {
  learningRate?: LearningRate;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /**
   * Which tensors weight decay applies to: 'all' trainable ones (PyTorch's
   * default, the default here) or only 'kernels' (conv and dense weights, not
   * biases or batch-norm scales), as an L2 penalty on the weights is written.
   */
  weightDecayOn?: 'all' | 'kernels';
}

/** Options of {@link adam}. */
export interface AdamOptions {
  learningRate?: LearningRate;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** AdamW: decay weights directly instead of adding wd*w to the gradient. */
  decoupled?: boolean;
}

/** A JSON description of an optimiser (model files, CLI). */
export type OptimizerConfig = ({ kind: 'sgd' } & Required<SgdOptions>) | ({ kind: 'adam' } & Required<AdamOptions>);

/** One saved state tensor of an optimiser. */
export interface SlotTensor {
  param: string;
  slot: string;
  value: F32Buffer;
}

export abstract class Optimizer {
  /** Steps taken so far (drives the schedule and Adam's bias correction). */
  iterations = 0;
  protected be: Backend | null = null;
  private slots = new Map<string, F32Buffer>();

  abstract config(): OptimizerConfig;
  protected abstract slotNames(): string[];
  protected abstract update(p: Param, slots: F32Buffer[], lr: number): void;

  /** The learning rate the next step will use. */
  get learningRate(): number {
    return learningRateAt(this.config().learningRate, this.iterations);
  }

  /** Applies one update to every trainable parameter from its gradient. */
  step(be: Backend, params: Param[]): void {
    this.be = be;
    const lr = this.learningRate;
    for (const p of params) {
      if (!p.grad) continue;
      this.update(p, this.slotNames().map((s) => this.slot(p, s)), lr);
    }
    this.iterations++;
  }

  private slot(p: Param, name: string): F32Buffer {
    const key = `${p.name}#${name}`;
    let b = this.slots.get(key);
    if (!b) {
      b = this.be!.heap.alloc(p.value.length, 0);
      this.slots.set(key, b);
    }
    return b;
  }

  /** The state tensors, in a fixed order (for saving). */
  state(): SlotTensor[] {
    return [...this.slots.entries()].map(([key, value]) => {
      const i = key.lastIndexOf('#');
      return { param: key.slice(0, i), slot: key.slice(i + 1), value };
    });
  }

  /** Restores state saved by {@link state} (values copied into wasm memory). */
  loadState(be: Backend, iterations: number, tensors: { param: string; slot: string; data: Float32Array }[]): void {
    this.be = be;
    this.iterations = iterations;
    for (const t of tensors) {
      const key = `${t.param}#${t.slot}`;
      this.slots.get(key)?.free();
      this.slots.set(key, be.heap.from(t.data));
    }
  }

  /** Frees the state. */
  dispose(): void {
    for (const b of this.slots.values()) b.free();
    this.slots.clear();
  }
}

export class Sgd extends Optimizer {
  private readonly o: Required<SgdOptions>;
  /** Velocity stand-in for plain SGD (momentum 0), shared by all parameters. */
  private tmp: F32Buffer | null = null;
  constructor(o: SgdOptions = {}) {
    super();
    this.o = {
      learningRate: checkLearningRate(o.learningRate ?? 0.01, 'sgd'),
      momentum: o.momentum ?? 0,
      nesterov: o.nesterov ?? false,
      weightDecay: o.weightDecay ?? 0,
      weightDecayOn: o.weightDecayOn ?? 'all',
    };
    if (this.o.weightDecayOn !== 'all' && this.o.weightDecayOn !== 'kernels') throw new Error(`sgd: weightDecayOn must be 'all' or 'kernels', got ${JSON.stringify(this.o.weightDecayOn)}`);
    if (!(this.o.momentum >= 0 && this.o.momentum < 1)) throw new Error(`sgd: momentum must be in [0, 1), got ${this.o.momentum}`);
    if (!(this.o.weightDecay >= 0)) throw new Error(`sgd: weightDecay must be >= 0, got ${this.o.weightDecay}`);
    if (this.o.nesterov && this.o.momentum === 0) throw new Error('sgd: nesterov needs momentum > 0');
  }
  config(): OptimizerConfig {
    return { kind: 'sgd', ...this.o };
  }
  protected slotNames(): string[] {
    return this.o.momentum > 0 ? ['velocity'] : [];
  }
  protected update(p: Param, slots: F32Buffer[], lr: number): void {
    const weightDecay = this.o.weightDecayOn === 'kernels' && !p.name.endsWith('/kernel') ? 0 : this.o.weightDecay;
    if (slots.length === 0) {
      // Plain SGD: a zero velocity with momentum 0 gives w -= lr * (g + wd*w).
      const v = this.scratch(p.value.length);
      sgdUpdate(this.be!, p.value, p.grad!, v, { lr, momentum: 0, weightDecay, nesterov: false });
      return;
    }
    sgdUpdate(this.be!, p.value, p.grad!, slots[0], { lr, momentum: this.o.momentum, weightDecay, nesterov: this.o.nesterov });
  }
  private scratch(len: number): F32Buffer {
    if (!this.tmp || this.tmp.length < len) {
      this.tmp?.free();
      this.tmp = this.be!.heap.alloc(len);
    }
    return this.tmp;
  }
  override dispose(): void {
    super.dispose();
    this.tmp?.free();
    this.tmp = null;
  }
}

export class Adam extends Optimizer {
  private readonly o: Required<AdamOptions>;
  constructor(o: AdamOptions = {}) {
    super();
    this.o = {
      learningRate: checkLearningRate(o.learningRate ?? 1e-3, 'adam'),
      beta1: o.beta1 ?? 0.9,
      beta2: o.beta2 ?? 0.999,
      epsilon: o.epsilon ?? 1e-8,
      weightDecay: o.weightDecay ?? 0,
      decoupled: o.decoupled ?? false,
    };
    for (const k of ['beta1', 'beta2'] as const) {
      if (!(this.o[k] >= 0 && this.o[k] < 1)) throw new Error(`adam: ${k} must be in [0, 1), got ${this.o[k]}`);
    }
  }
  config(): OptimizerConfig {
    return { kind: 'adam', ...this.o };
  }
  protected slotNames(): string[] {
    return ['m', 'v'];
  }
  protected update(p: Param, [m, v]: F32Buffer[], lr: number): void {
    adamUpdate(this.be!, p.value, p.grad!, m, v, {
      lr, beta1: this.o.beta1, beta2: this.o.beta2, eps: this.o.epsilon, weightDecay: this.o.weightDecay, decoupled: this.o.decoupled, step: this.iterations + 1,
    });
  }
}

/** SGD with optional momentum / Nesterov / weight decay. */
export function sgd(o: SgdOptions = {}): Sgd {
  return new Sgd(o);
}

/** Adam (or AdamW with `decoupled: true`). */
export function adam(o: AdamOptions = {}): Adam {
  return new Adam(o);
}

/** Recreates an optimiser from its config. */
export function optimizerFromConfig(c: OptimizerConfig): Optimizer {
  if (c.kind === 'sgd') return new Sgd(c);
  if (c.kind === 'adam') return new Adam(c);
  throw new Error(`unknown optimizer kind ${JSON.stringify((c as { kind: unknown }).kind)} (valid: sgd, adam)`);
}
