/** The tensors a layer stores: parameters (with their gradients) and statistics. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';

/** A tensor the model stores: trainable parameters (with a gradient) or running statistics. */
export interface Param {
  /** `<layer>/<name>`, unique within a model. */
  name: string;
  shape: number[];
  value: F32Buffer;
  /** Gradient of the loss, complete after a layer's own backward (or a model's step); null for non-trainable tensors. */
  grad: F32Buffer | null;
  /** Per-leaf gradients [leaves, size] of a training step (see layers/step.ts). */
  leafGrads?: F32Buffer | null;
}

/** Allocates a parameter tensor (and its gradient when trainable). */
export function makeParam(be: Backend, layer: string, name: string, shape: number[], trainable: boolean): Param {
  const size = shape.reduce((a, b) => a * b, 1);
  return { name: `${layer}/${name}`, shape, value: be.heap.alloc(size, 0), grad: trainable ? be.heap.alloc(size, 0) : null };
}

