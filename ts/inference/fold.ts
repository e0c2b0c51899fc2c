/**
 * Inference with batch norm folded into the conv or dense layer before it:
 * y = gamma * (W x + b - mean) / sqrt(var + eps) + beta is W' x + b' with
 * W' = W * s and b' = (b - mean) * s + beta per output channel, s = gamma /
 * sqrt(var + eps); a relu right after is applied by the same layer's kernel
 * as it stores its outputs (conv2dForward / denseForward with relu), and so is
 * a relu layer right after a conv or dense layer without batch norm; a 2x2
 * max pooling after a convolution whose geometry the row kernel takes
 * (LeNet's conv1) is computed from each pair of conv rows while they are in
 * cache. So the inference pass does one pass per conv/dense layer and skips
 * the batch-norm, relu and (there) pooling layers. The folded weights are
 * computed once per weights version (see Net.weightsChanged). The
 * results agree with the unfolded pass to float rounding, not to the bit.
 */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import type { BatchNormalization } from '../layers/batchnorm.js';
import type { Conv2D } from '../layers/conv2d.js';
import type { Dense } from '../layers/dense.js';
import type { Layer } from '../layers/layer.js';
import type { MaxPooling2D } from '../layers/pooling.js';

type Foldable = Conv2D | Dense;

/**
 * One step of the inference pass: a layer as it is, or a conv/dense layer run
 * with `kernel` and `bias` (folded copies it owns, or the layer's own) that
 * stands for `covers` layers: itself, a batch norm folded in, a relu applied
 * as its kernel stores each output, and (`pool2`, convolutions) a 2x2 max
 * pooling computed from the conv rows in cache.
 */
export type PlanStep =
  | { layer: Layer }
  | { layer: Foldable; kernel: F32Buffer; bias: F32Buffer | null; relu: boolean; pool2: boolean; covers: number; owned: boolean };

function isFoldable(l: Layer): l is Foldable {
  return l.kind === 'conv2d' || l.kind === 'dense';
}

/** A 2x2 max pooling with stride 2 (what conv2dForwardPool2 fuses). */
function isPool2(l: Layer | undefined): boolean {
  const p = l as MaxPooling2D | undefined;
  return p?.kind === 'maxPooling2d' && p.poolSize.every((k) => k === 2) && p.strides.every((k) => k === 2);
}

/** Folded copies of a conv/dense layer's kernel and bias with the batch norm `bn` after it. */
function fold(l: Foldable, bn: BatchNormalization, be: Backend): { kernel: F32Buffer; bias: F32Buffer } {
  const { channels, kernel, bias, perChannel } = l.foldLayout;
  const [gamma, beta, mean, variance] = bn.params().map((p) => p.value.toArray());
  const w = kernel.value.toArray(), b = bias ? bias.value.toArray() : new Float32Array(channels);
  const scale = Float32Array.from({ length: channels }, (_, c) => gamma[c] / Math.sqrt(variance[c] + bn.epsilon));
  if (perChannel === 'rows') {
    const per = w.length / channels;
    for (let c = 0; c < channels; c++) for (let k = 0; k < per; k++) w[c * per + k] *= scale[c];
  } else {
    for (let r = 0; r < w.length / channels; r++) for (let c = 0; c < channels; c++) w[r * channels + c] *= scale[c];
  }
  const fb = Float32Array.from({ length: channels }, (_, c) => (b[c] - mean[c]) * scale[c] + beta[c]);
  return { kernel: be.heap.from(w), bias: be.heap.from(fb) };
}

/**
 * The inference pass of `layers`: each conv/dense layer takes in a batch
 * norm right after it (folded, when the layer has no activation of its own),
 * then a relu layer (or its own relu), then, for a convolution the kernels
 * can fuse it into, a 2x2 max pooling: one pass for all of them.
 */
export function buildPlan(layers: Layer[], be: Backend): PlanStep[] {
  const steps: PlanStep[] = [];
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (!isFoldable(l)) {
      steps.push({ layer: l });
      continue;
    }
    let at = i + 1, relu = l.activation === 'relu', owned = false;
    let { kernel, bias } = { kernel: l.foldLayout.kernel.value, bias: l.foldLayout.bias?.value ?? null };
    if (!relu && layers[at]?.kind === 'batchNormalization') {
      ({ kernel, bias } = fold(l, layers[at] as BatchNormalization, be));
      owned = true;
      at++;
    }
    if (!relu && layers[at]?.kind === 'relu') {
      relu = true;
      at++;
    }
    const pool2 = l.kind === 'conv2d' && isPool2(layers[at]) && l.canPool2;
    if (pool2) at++;
    if (at === i + 1 && !relu) {
      steps.push({ layer: l });
      continue;
    }
    steps.push({ layer: l, kernel, bias, relu, pool2, covers: at - i, owned });
    i = at - 1;
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
