/**
 * Who computes which gradient leaves. Each step a training pool gives every
 * active worker a run of consecutive leaves; the bits do not depend on where
 * the runs end (the leaf tree, the batch-norm rows and the dropout masks are
 * fixed by the batch alone, see shard.ts), only how long the faster workers
 * wait for the slower at each batch-norm barrier and at the step's end do.
 *
 * Cores are not equally fast: a laptop's efficiency cores run at half the
 * speed of its performance cores, and on a shared 2-vCPU host one vCPU ran
 * 30-40% slower than the other for seconds at a time (docs/benchmarks.md).
 * An even split then makes every step as slow as the slowest worker's share.
 * The balancer instead gives each worker leaves in proportion to its speed,
 * measured from the milliseconds of compute it took in recent steps (waits,
 * copies and reduction excluded), smoothed over a few steps because a single
 * step's speed foretells the next one only weakly. A worker's compute is
 * modelled as its speed times (its leaves + FIXED_LEAVES): part of a step
 * costs every worker the same whatever its leaves (the batch-norm sums over
 * all the batch's rows, the calls themselves).
 */
import { ownedLeaves } from '../layers/step.js';

/**
 * Weight of the newest step in each worker's smoothed speed: the
 * speed ratio of the two cores stayed put for hundreds of steps on the
 * 2-vCPU host, and from step to step varied by tens of percent.
 */
export const BALANCE_SMOOTHING = 0.2;

/**
 * A new split must promise to end the step's compute this much sooner than
 * the current one before the pool takes it: without it, two nearly equal
 * workers would trade a leaf back and forth on noise.
 */
export const BALANCE_MARGIN = 0.04;

/**
 * The part of a worker's step that does not grow with its leaves, in leaves:
 * lenet5-bn's compute at batch 64 and 128 on two workers, every split forced
 * in turn, grew by 1.8 ms a leaf from 2.3-2.6 ms for one leaf (0.25-0.45 of a
 * leaf fixed). Counting it keeps a worker with few leaves from looking slow
 * per leaf, which would keep it at few leaves.
 */
export const FIXED_LEAVES = 0.4;

/** Bounds for `workers` runs of `leaves` leaves as even as they come: worker w owns leaves [b[w], b[w + 1]). */
export function evenSplit(leaves: number, workers: number): number[] {
  return [...Array.from({ length: workers }, (_, w) => ownedLeaves(leaves, w, workers)[0]), leaves];
}

/**
 * Bounds giving `leaves` leaves (at least one each) to workers that take
 * `msPerLeaf[w] * (k + fixed)` for k leaves, so that the slowest finishes
 * first: each leaf goes in turn to the worker that would finish it soonest,
 * which for equal leaves on workers of different speeds gives the least time
 * of the slowest.
 */
export function fastestSplit(leaves: number, msPerLeaf: readonly number[], fixed = 0): number[] {
  const workers = msPerLeaf.length;
  if (leaves < workers) throw new RangeError(`${leaves} leaves cannot give ${workers} workers one each`);
  const count = new Array<number>(workers).fill(1);
  const after = (w: number) => (count[w] + 1 + fixed) * msPerLeaf[w];
  for (let l = workers; l < leaves; l++) {
    let best = 0;
    for (let w = 1; w < workers; w++) if (after(w) < after(best)) best = w;
    count[best]++;
  }
  const bounds = [0];
  for (const c of count) bounds.push(bounds[bounds.length - 1] + c);
  return bounds;
}

/** How long the slowest worker takes with `bounds`, at `msPerLeaf` (see fastestSplit). */
export function slowestMs(bounds: readonly number[], msPerLeaf: readonly number[], fixed = 0): number {
  let most = 0;
  for (let w = 0; w < msPerLeaf.length; w++) most = Math.max(most, (bounds[w + 1] - bounds[w] + fixed) * msPerLeaf[w]);
  return most;
}

/**
 * A pool's balancer: `split` before each step, `observe` after it with what
 * each worker's compute took.
 */
export class LeafBalancer {
  /** Each worker's smoothed milliseconds of compute per leaf (its compute / (leaves + FIXED_LEAVES)); NaN until measured. */
  private readonly msPerLeaf: number[];
  /** The last split for each (leaves, active workers). */
  private readonly current = new Map<string, number[]>();

  constructor(workers: number, private readonly enabled = true) {
    this.msPerLeaf = new Array<number>(workers).fill(NaN);
  }

  /** Each worker's smoothed milliseconds per leaf (NaN: not measured yet). */
  get speeds(): readonly number[] {
    return this.msPerLeaf;
  }

  /** The runs of leaves for the first `active` workers this step. */
  split(leaves: number, active: number): number[] {
    const key = `${leaves}/${active}`, rates = this.msPerLeaf.slice(0, active);
    const now = this.current.get(key) ?? evenSplit(leaves, active);
    if (!this.enabled || rates.some((r) => !(r > 0))) return now;
    const best = fastestSplit(leaves, rates, FIXED_LEAVES);
    const chosen = slowestMs(best, rates, FIXED_LEAVES) < (1 - BALANCE_MARGIN) * slowestMs(now, rates, FIXED_LEAVES) ? best : now;
    this.current.set(key, chosen);
    return chosen;
  }

  /** After a step with `bounds` over a batch of `n` images: each worker's compute milliseconds. */
  observe(bounds: readonly number[], n: number, leafSize: number, computeMs: readonly number[]): void {
    for (let w = 0; w + 1 < bounds.length; w++) {
      const images = Math.min(bounds[w + 1] * leafSize, n) - Math.min(bounds[w] * leafSize, n);
      if (images <= 0 || !(computeMs[w] > 0)) continue;
      const sample = computeMs[w] / (images / leafSize + FIXED_LEAVES), r = this.msPerLeaf[w];
      this.msPerLeaf[w] = Number.isNaN(r) ? sample : r + BALANCE_SMOOTHING * (sample - r);
    }
  }
}
