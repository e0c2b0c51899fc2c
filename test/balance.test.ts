/**
 * Splitting a step's gradient leaves among workers by their speed
 * (parallel/balance.ts), checked against an exhaustive search over every
 * split.
 */
import { describe, expect, it } from 'vitest';
import { BALANCE_MARGIN, BALANCE_SMOOTHING, evenSplit, fastestSplit, FIXED_LEAVES, LeafBalancer, slowestMs } from '../ts/parallel/balance.js';
import { ownedLeaves } from '../ts/layers/step.js';
import { Rng } from '../ts/rng.js';

/** Every split of `leaves` into `workers` runs of at least one leaf. */
function allSplits(leaves: number, workers: number): number[][] {
  if (workers === 1) return [[0, leaves]];
  const out: number[][] = [];
  for (let first = 1; first <= leaves - (workers - 1); first++) {
    for (const rest of allSplits(leaves - first, workers - 1)) out.push([0, ...rest.map((b) => b + first)]);
  }
  return out;
}

describe('fastestSplit', () => {
  it('gives the least time of the slowest worker of all splits, each worker at least one leaf', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 300; trial++) {
      const workers = 1 + Math.floor(rng.uniform() * 4), leaves = workers + Math.floor(rng.uniform() * 14);
      const rates = Array.from({ length: workers }, () => 0.2 + 3 * rng.uniform()), fixed = trial % 2 ? 0 : rng.uniform();
      const got = fastestSplit(leaves, rates, fixed);
      const best = Math.min(...allSplits(leaves, workers).map((s) => {
        let most = 0; // the naive way: every worker's time, the largest
        for (let w = 0; w < workers; w++) most = Math.max(most, (s[w + 1] - s[w] + fixed) * rates[w]);
        return most;
      }));
      expect(got[0]).toBe(0);
      expect(got[workers]).toBe(leaves);
      for (let w = 0; w < workers; w++) expect(got[w + 1] - got[w]).toBeGreaterThanOrEqual(1);
      expect(slowestMs(got, rates, fixed)).toBeCloseTo(best, 12);
    }
  });

  it('gives equal workers an even split, and a worker twice as fast twice the leaves', () => {
    expect(fastestSplit(8, [1, 1])).toEqual([0, 4, 8]);
    expect(fastestSplit(9, [1, 2])).toEqual([0, 6, 9]);
    expect(fastestSplit(9, [2, 1])).toEqual([0, 3, 9]);
    // A fixed part of a leaf each: 3.5 x 1 against 8 x 0.5 (7/2 would be 4.5 x 1 against 2.5 x 2).
    expect(fastestSplit(9, [1, 2], 0.5)).toEqual([0, 6, 9]);
  });

  it('refuses fewer leaves than workers', () => {
    expect(() => fastestSplit(2, [1, 1, 1])).toThrow(/2 leaves cannot give 3 workers one each/);
  });
});

describe('evenSplit', () => {
  it('is the even split the probes and earlier pools use (ownedLeaves)', () => {
    for (const [leaves, workers] of [[8, 2], [8, 3], [13, 4], [1, 1], [16, 5]]) {
      const s = evenSplit(leaves, workers);
      for (let w = 0; w < workers; w++) expect([s[w], s[w + 1]]).toEqual(ownedLeaves(leaves, w, workers));
    }
  });
});

describe('LeafBalancer', () => {
  const F = FIXED_LEAVES;
  /** Milliseconds of compute a worker of `msPerLeaf` takes for `leaves`. */
  const ms = (msPerLeaf: number, leaves: number) => msPerLeaf * (leaves + F);

  it('splits evenly until every active worker has been measured', () => {
    const b = new LeafBalancer(3);
    expect(b.split(8, 2)).toEqual([0, 4, 8]);
    b.observe([0, 4, 8], 128, 16, [ms(2.5, 4), ms(4, 4)]);
    expect(b.speeds[0]).toBeCloseTo(2.5, 12);
    expect(b.speeds[1]).toBeCloseTo(4, 12);
    expect(Number.isNaN(b.speeds[2])).toBe(true);
    expect(b.split(9, 3)).toEqual([0, 3, 6, 9]); // worker 2 not measured yet
    expect(b.split(8, 2)).toEqual([0, 5, 8]); // 2.5 x 5.4 = 13.5 ms against 4 x 4.4 = 17.6 (6/2: 16.0)
  });

  it('keeps its split unless another promises to end the compute BALANCE_MARGIN sooner', () => {
    const b = new LeafBalancer(2);
    // Worker 1 15% slower: 5/3 would end at 5.4 against 4.4 x 1.15 = 5.06: no gain.
    b.observe([0, 4, 8], 128, 16, [ms(1, 4), ms(1.15, 4)]);
    expect(b.split(8, 2)).toEqual([0, 4, 8]);
    // 16 leaves: 9/7 ends at 9.4 against 8.4 x 1.15 = 9.66, 2.7% sooner: below the margin, so kept.
    expect(BALANCE_MARGIN).toBeGreaterThan(0.028);
    expect(b.split(16, 2)).toEqual([0, 8, 16]);
    // Worker 1 1.6x as slow: 5/3 ends at 5.4 against 4.4 x 1.6 = 7.04.
    const c = new LeafBalancer(2);
    c.observe([0, 4, 8], 128, 16, [ms(1, 4), ms(1.6, 4)]);
    expect(c.split(8, 2)).toEqual([0, 5, 8]);
  });

  it('does not take a worker with few leaves for slow: the fixed part of a step is not counted per leaf', () => {
    // Equal speeds, measured at 3/1: each worker's ms per leaf comes out the same, and the split goes back to even.
    const c = new LeafBalancer(2);
    c.observe([0, 3, 4], 64, 16, [ms(1.8, 3), ms(1.8, 1)]);
    expect(c.speeds[1]).toBeCloseTo(c.speeds[0], 12);
    expect(c.split(4, 2)).toEqual([0, 2, 4]);
  });

  it('smooths each worker\'s speed over steps and counts a last, smaller leaf by its images', () => {
    const b = new LeafBalancer(2);
    b.observe([0, 1, 2], 20, 16, [ms(8, 1), ms(8, 0.25)]); // worker 1: a leaf of 4 images
    expect(b.speeds[0]).toBeCloseTo(8, 12);
    expect(b.speeds[1]).toBeCloseTo(8, 12);
    b.observe([0, 1, 2], 32, 16, [ms(18, 1), ms(8, 1)]);
    expect(b.speeds[0]).toBeCloseTo(8 + BALANCE_SMOOTHING * 10, 12);
    expect(b.speeds[1]).toBeCloseTo(8, 12);
  });

  it('a disabled balancer always splits evenly', () => {
    const b = new LeafBalancer(2, false);
    b.observe([0, 4, 8], 128, 16, [1, 100]);
    expect(b.split(8, 2)).toEqual([0, 4, 8]);
  });
});
