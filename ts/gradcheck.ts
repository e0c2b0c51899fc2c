/**
 * Gradient check: backprop gradients vs central differences of the training
 * loss, for sampled entries of every trainable tensor, plus a dead-ReLU report.
 */
import { netOf, type HasNet } from './engine/net.js';
import type { Dataset } from './engine/types.js';
import { Rng } from './rng.js';

/** Result for one parameter tensor. */
export interface TensorCheck {
  name: string;
  /** Entries compared. */
  checked: number;
  /** ||backprop - numeric|| / (||backprop|| + ||numeric||) over the checked entries (0 when both are 0). */
  relativeError: number;
  maxAbsError: number;
  ok: boolean;
}

export interface GradientCheckResult {
  tensors: TensorCheck[];
  /** Layers whose relu output was (almost) all zero on the batch. */
  deadReluLayers: { layer: string; zeroFraction: number }[];
  ok: boolean;
}

/** Options of {@link gradientCheck}. */
export interface GradientCheckOptions {
  /** Entries sampled per tensor (default 12). */
  samples?: number;
  /** Finite-difference step (default 5e-3; f32 losses need a step this large). */
  step?: number;
  /**
   * Relative error above which a tensor fails (default 0.1). f32 forward passes
   * and relu/max-pool kinks put typical errors at 1e-4..5e-2.
   */
  tolerance?: number;
  /**
   * Differences below this pass regardless of the relative error (default 1e-3):
   * the numeric noise floor of an f32 loss. Catches true zeros such as the bias
   * of a conv followed by batch norm.
   */
  absoluteTolerance?: number;
  seed?: number;
}

const RELU_OUTPUT_KINDS = new Set(['relu']);

/**
 * Compares backprop with central differences on `batch` (all its examples form
 * one batch). Batch-norm running statistics are restored afterwards, so the
 * model is unchanged.
 */
export function gradientCheck(of: HasNet, batch: Dataset, o: GradientCheckOptions = {}): GradientCheckResult {
  const model = netOf(of);
  const samples = o.samples ?? 12, h = o.step ?? 5e-3, tol = o.tolerance ?? 0.1, absTol = o.absoluteTolerance ?? 1e-3;
  model.checkDataset(batch, 'gradient check batch');
  const rng = new Rng(o.seed ?? 7);
  const stepSeed = 12345;
  const params = model.params();
  const saved = params.map((p) => p.value.toArray());
  const n = batch.count;

  model.computeGradients(batch, 0, n, stepSeed);
  const grads = params.map((p) => (p.grad ? p.grad.toArray() : null));
  const stats = model.activationStats();
  const deadReluLayers = stats
    .filter((s) => (RELU_OUTPUT_KINDS.has(s.kind) || model.layers.find((l) => l.name === s.layer && (l.config().activation === 'relu'))) && s.zeroFraction > 0.99)
    .map((s) => ({ layer: s.layer, zeroFraction: s.zeroFraction }));

  const tensors: TensorCheck[] = [];
  params.forEach((p, pi) => {
    const g = grads[pi];
    if (!g) return;
    const idx = Array.from({ length: Math.min(samples, p.value.length) }, () => rng.int(p.value.length));
    let num2 = 0, den2a = 0, den2b = 0, maxAbs = 0;
    for (const i of idx) {
      const v = p.value.view[i];
      p.value.view[i] = v + h;
      const lp = model.trainingLoss(batch, 0, n, stepSeed);
      p.value.view[i] = v - h;
      const lm = model.trainingLoss(batch, 0, n, stepSeed);
      p.value.view[i] = v;
      const numeric = (lp - lm) / (2 * h);
      const d = g[i] - numeric;
      num2 += d * d;
      den2a += g[i] * g[i];
      den2b += numeric * numeric;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    const den = Math.sqrt(den2a) + Math.sqrt(den2b);
    const rel = den === 0 ? 0 : Math.sqrt(num2) / den;
    tensors.push({ name: p.name, checked: idx.length, relativeError: rel, maxAbsError: maxAbs, ok: rel <= tol || maxAbs <= absTol });
  });
  // Restore everything the forward passes touched (running statistics).
  params.forEach((p, i) => p.value.set(saved[i]));
  return { tensors, deadReluLayers, ok: tensors.every((t) => t.ok) };
}
