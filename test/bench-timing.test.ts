import { describe, expect, it } from 'vitest';
import { medianRatio, ratioRange } from '../ts/bench/timing.js';

describe('side-by-side ratios', () => {
  // Seconds per call of two contenders over 5 rounds: a ran 2x, 1.5x, 3x, 1x, 2.5x as fast as b.
  const a = [1, 2, 1, 4, 2], b = [2, 3, 3, 4, 5];
  it('medianRatio is the median of the per-round ratios b[r]/a[r], not the ratio of medians', () => {
    expect(medianRatio(a, b)).toBe(2);
    expect(medianRatio(b, a)).toBeCloseTo(0.5);
  });
  it('ratioRange gives the lowest and highest per-round ratio', () => {
    expect(ratioRange(a, b)).toEqual([1, 3]);
    expect(ratioRange(b, a)).toEqual([1 / 3, 1]);
  });
});
