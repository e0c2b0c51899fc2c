import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { interleavedRounds, interleavedRoundsAsync, interleavedRoundsFirstApart, medianRatio, ratioRange } from '../ts/bench/timing.js';

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

describe('interleavedRoundsAsync', () => {
  // A clock of its own: each contender's call takes exactly its `ms`, whatever the machine's load.
  let clock = 0;
  beforeEach(() => { clock = 0; vi.spyOn(performance, 'now').mockImplementation(() => clock); });
  afterEach(() => { vi.restoreAllMocks(); });
  /** Contenders whose calls take `ms` each and log who ran. */
  const make = (log: number[], ...ms: number[]) => ms.map((d, i) => async () => {
    log.push(i);
    clock += d;
  });
  const switches = (log: number[]) => log.reduce((s, x, k) => s + (k > 0 && x !== log[k - 1] ? 1 : 0), 0);

  it('without slices, times each contender at a stretch, one stretch a round', async () => {
    const log: number[] = [];
    const r = await interleavedRoundsAsync(make(log, 1, 2), { rounds: 3, minMs: 20, warmup: 0 });
    expect(r).toEqual([[0.001, 0.001, 0.001], [0.002, 0.002, 0.002]]);
    expect(switches(log)).toBe(5);
  });

  it('with slices, alternates the contenders within each round in slices of whole calls until each ran minMs', async () => {
    const log: number[] = [];
    const r = await interleavedRoundsAsync(make(log, 1, 2), { rounds: 3, minMs: 20, warmup: 0, sliceMs: 4 });
    expect(r).toEqual([[0.001, 0.001, 0.001], [0.002, 0.002, 0.002]]);
    // After one call each to size the slices: 4 calls of the first, 2 of the second, 5 times a round.
    expect(log.slice(0, 2)).toEqual([0, 1]);
    expect(log.slice(2, 8)).toEqual([0, 0, 0, 0, 1, 1]);
    expect(log.length).toBe(2 + 3 * 5 * 6);
    expect(switches(log)).toBe(1 + 3 * 5 * 2);
  });

  it('a contender whose call outlasts a slice and minMs runs once a round, not as often as the fast ones need', async () => {
    const log: number[] = [];
    const r = await interleavedRoundsAsync(make(log, 1, 50), { rounds: 2, minMs: 20, warmup: 0, sliceMs: 4 });
    expect(r[1]).toEqual([0.05, 0.05]);
    expect(log.filter((x) => x === 1).length).toBe(1 + 2);
    expect(log.filter((x) => x === 0).length).toBe(1 + 2 * 20);
  });

  it('sizes the slices from the last warm-up call, without a call of its own', async () => {
    const log: number[] = [];
    await interleavedRoundsAsync(make(log, 1, 2), { rounds: 1, minMs: 20, warmup: 2, sliceMs: 4 });
    expect(log.slice(0, 10)).toEqual([0, 0, 1, 1, 0, 0, 0, 0, 1, 1]);
    expect(log.length).toBe(4 + 5 * 6);
  });

  it('settle runs untimed after each warm-up, slice and stretch of its contender, before the next contender is timed', async () => {
    for (const sliceMs of [4, undefined]) {
      const log: (number | string)[] = [];
      // Contender 0 leaves its threads spinning for 7 ms after it returns: settle waits them out, off the clock.
      const r = await interleavedRoundsAsync(make(log as number[], 1, 2), {
        rounds: 2, minMs: 20, warmup: 1, sliceMs, settle: (i) => { log.push(`settle ${i}`); if (i === 0) clock += 7; },
      });
      expect(r, `sliceMs ${sliceMs}`).toEqual([[0.001, 0.001], [0.002, 0.002]]);
      // Every switch from contender 0 to 1 passes its settle; every settle follows its own contender's calls.
      log.forEach((x, k) => {
        if (x === 1 && k > 0 && log[k - 1] !== 1) expect(log[k - 1]).toBe('settle 0');
        if (typeof x === 'string') expect(log[k - 1]).toBe(Number(x.slice(7)));
      });
      expect(log.filter((x) => x === 'settle 0').length).toBe(1 + 2 * (sliceMs ? 5 : 1));
    }
  });
});

describe('interleavedRoundsFirstApart', () => {
  let clock = 0;
  beforeEach(() => { clock = 0; vi.spyOn(performance, 'now').mockImplementation(() => clock); });
  afterEach(() => { vi.restoreAllMocks(); });
  /** Contenders whose call takes `cold` ms right after another contender ran (its buffers evicted), `warm` ms otherwise. */
  const evicting = (log: number[], ...ms: [number, number][]) => ms.map(([warm, cold], i) => () => {
    clock += log.length > 0 && log[log.length - 1] !== i ? cold : warm;
    log.push(i);
  });

  it("times each slice's first call apart from the slice's other calls", () => {
    const log: number[] = [];
    const r = interleavedRoundsFirstApart(evicting(log, [1, 3], [2, 2]), { rounds: 3, minMs: 20, warmup: 1, sliceMs: 4 });
    expect(r.inCache).toEqual([[0.001, 0.001, 0.001], [0.002, 0.002, 0.002]]);
    expect(r.firstCalls).toEqual([[0.003, 0.003, 0.003], [0.002, 0.002, 0.002]]);
    // After two calls each (one warm-up, one to size the slices): 1 + 4 calls of the first, 1 + 2 of the second, 5 times a round.
    expect(log.slice(4, 12)).toEqual([0, 0, 0, 0, 0, 1, 1, 1]);
    expect(log.length).toBe(4 + 3 * 5 * 8);
  });

  it('interleavedRounds, timing every call, mixes the evicted calls into its times', () => {
    const r = interleavedRounds(evicting([], [1, 3], [2, 2]), { rounds: 1, minMs: 20, warmup: 1, sliceMs: 4 });
    // Each slice of 4 calls: one at 3 ms, three at 1 ms.
    expect(r[0][0]).toBeCloseTo(0.0015, 10);
  });
});
