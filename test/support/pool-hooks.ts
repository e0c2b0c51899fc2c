/**
 * Test hooks into the worker pools, kept out of the production classes: they
 * reach the pools' shared control table and internals by name. Faults are
 * written where the workers look for them (ts/parallel/faults.ts).
 */
import type { InferencePool } from '../../ts/parallel/infer.js';
import type { SharedViews, InferViews } from '../../ts/parallel/layout.js';
import { C, T, TIMES } from '../../ts/parallel/layout.js';
import { faultCode, type Fault } from '../../ts/parallel/faults.js';
import type { TrainingPool } from '../../ts/parallel/pool.js';

interface TrainingInternals {
  v: SharedViews;
  count: number;
  own: { stallMs: number } | null;
  group: { kill(i: number): Promise<void> };
  splitFor(leaves: number, active: number): number[];
}
const training = (p: TrainingPool) => p as unknown as TrainingInternals;
const inference = (p: InferencePool) => p as unknown as { v: InferViews };

/** Makes worker i fail or slow down from the next step or call (see FAULTS). */
export function injectFault(pool: TrainingPool | InferencePool, i: number, how: Fault): void {
  Atomics.store((pool as unknown as { v: { ctrl: Int32Array } }).v.ctrl, C.FAULT, faultCode(i, how));
}

/** Each step splits its leaves at `f(leaves, active workers)` instead of the balancer's bounds; null: the balancer's again. */
export function forceSplit(pool: TrainingPool, f: ((leaves: number, active: number) => number[]) | null): void {
  const p = training(pool) as unknown as Record<string, unknown>;
  if (f) p.splitFor = f;
  else delete p.splitFor; // the class's own again
}

/** How long the calling thread waits at a barrier before it gives up on the other workers. */
export function setStallMs(pool: TrainingPool, ms: number): void {
  const own = training(pool).own;
  if (own) own.stallMs = ms;
}

/** Ends worker thread i as if it had crashed. */
export function killWorker(pool: TrainingPool, i: number): Promise<void> {
  return training(pool).group.kill(i);
}

/** How many gradient blocks each worker has combined since the timing was reset. */
export function blocksBy(pool: TrainingPool): number[] {
  const t = training(pool);
  return Array.from({ length: t.count }, (_, w) => t.v.timing[w * TIMES + T.BLOCKS]);
}

/** How many chunks of the last call each inference worker computed. */
export function chunksBy(pool: InferencePool): number[] {
  return Array.from(inference(pool).v.chunksBy);
}
