/**
 * One training step's end, the same for a step computed on this thread and
 * one computed by a worker pool: the loss is checked before the update it
 * would drive, the optimiser updates the weights, the engine's weights get a
 * new version (inference folds again, pools copy them again), and the
 * update's time is reported.
 */
import type { Dataset } from '../engine/types.js';
import type { Net } from '../engine/net.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Augment } from '../data/augment.js';

/** Training produced a non-finite loss or weights; the message names the step. */
export class TrainingDivergedError extends Error {}

/** Throws TrainingDivergedError for a non-finite step loss (before the update it would have driven). */
export function checkLoss(loss: number, optimizer: Optimizer): void {
  if (!Number.isFinite(loss)) {
    throw new TrainingDivergedError(`training diverged: loss is ${loss} at step ${optimizer.iterations + 1} (learning rate ${optimizer.learningRate}); lower the learning rate`);
  }
}

/** Finishes a step whose gradients are in the engine's parameters: loss check, update, new weights version. Returns the update's time, ms. */
export function finishStep(net: Net, optimizer: Optimizer, loss: number): number {
  checkLoss(loss, optimizer);
  const t0 = performance.now();
  optimizer.step(net.backend, net.params());
  net.weightsChanged();
  const ms = performance.now() - t0;
  net.profiler?.('optimizer', 'update', ms);
  return ms;
}

/**
 * One training step on examples idx[from..from+n) (or from.. when idx is
 * null) on this thread: stage, forward, loss, backward, finishStep. Returns
 * the mean loss and the number classified correctly.
 */
export function trainStep(net: Net, data: Dataset, idx: Uint32Array | null, from: number, n: number, optimizer: Optimizer, stepSeed: number, augment?: Augment): { loss: number; correct: number } {
  const x = net.stageBatch(data, idx, from, n, augment ? { spec: augment, stepSeed, first: 0 } : undefined);
  const r = net.localStep(x, n, stepSeed);
  finishStep(net, optimizer, r.loss);
  return r;
}
