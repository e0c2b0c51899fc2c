/**
 * Inference with batch norm folded into the conv or dense layer before it:
 * y = gamma * (W x + b - mean) / sqrt(var + eps) + beta is W' x + b' with
 * W' = W * s and b' = (b - mean) * s + beta per output channel, s = gamma /
 * sqrt(var + eps); a relu right after is applied by the same layer's kernel
 * as it stores its outputs (conv2dForward / denseForward with relu), and so is
 * a relu layer right after a conv or dense layer without batch norm. So the
 * inference pass does one pass per conv/dense layer and skips the batch-norm
 * and relu layers. The folded weights are
 * computed once per weights version (see Sequential.weightsChanged). The
 * results agree with the unfolded pass to float rounding, not to the bit.
 */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import type { BatchNormalization } from '../layers/batchnorm.js';
import type { Conv2D } from '../layers/conv2d.js';
import type { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';

type Foldable = Conv2D | Dense;

/**
 * One step of the inference pass: a layer as it is, or a layer run with
 * `kernel` and `bias` (folded copies it owns, or the layer's own when only a
 * relu is fused) that stands for `covers` layers.
 */
export type PlanStep =
  | { layer: Layer }
  | { layer: Foldable; kernel: F32Buffer; bias: F32Buffer | null; relu: boolean; covers: number; owned: boolean };

function foldable(l: Layer): l is Foldable {
  return (l.kind === 'conv2d' || l.kind === 'dense') && (l as Foldable).activation === 'linear';
}

/**
 * The inference pass of `layers`, folding every conv/dense (no activation) +
 * batch norm (+ relu), and fusing a relu layer into the conv/dense before it.
 */
export function buildPlan(layers: Layer[], be: Backend): PlanStep[] {
  const steps: PlanStep[] = [];
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i], next = layers[i + 1];
    if (foldable(l) && next?.kind === 'relu') {
      const { kernel, bias } = l.foldLayout;
      steps.push({ layer: l, kernel: kernel.value, bias: bias ? bias.value : null, relu: true, covers: 2, owned: false });
      i += 1;
      continue;
    }
    if (!foldable(l) || next?.kind !== 'batchNormalization') {
      steps.push({ layer: l });
      continue;
    }
    const relu = layers[i + 2]?.kind === 'relu';
    const { channels, kernel, bias, perChannel } = l.foldLayout;
    const [gamma, beta, mean, variance] = (next as BatchNormalization).params().map((p) => p.value.toArray());
    const eps = (next as BatchNormalization).epsilon;
    const w = kernel.value.toArray(), b = bias ? bias.value.toArray() : new Float32Array(channels);
    const scale = Float32Array.from({ length: channels }, (_, c) => gamma[c] / Math.sqrt(variance[c] + eps));
    if (perChannel === 'rows') {
      const per = w.length / channels;
      for (let c = 0; c < channels; c++) for (let k = 0; k < per; k++) w[c * per + k] *= scale[c];
    } else {
      for (let r = 0; r < w.length / channels; r++) for (let c = 0; c < channels; c++) w[r * channels + c] *= scale[c];
    }
    const fb = Float32Array.from({ length: channels }, (_, c) => (b[c] - mean[c]) * scale[c] + beta[c]);
    steps.push({ layer: l, kernel: be.heap.from(w), bias: be.heap.from(fb), relu, covers: relu ? 3 : 2, owned: true });
    i += relu ? 2 : 1;
  }
  return steps;
}

/** Frees a plan's folded weights. */
export function freePlan(steps: PlanStep[]): void {
  for (const s of steps) {
    if ('kernel' in s && s.owned) {
      s.kernel.free();
      s.bias?.free();
    }
  }
}
