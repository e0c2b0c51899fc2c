/** Timing helpers for side-by-side benchmarks: warm-up, interleaved rounds, medians. */

/** Seconds per call of `fn`, timed over at least `minMs` of repeated calls. */
export function timePerCall(fn: () => void, minMs: number): number {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minMs) return dt / 1000 / reps;
    reps = dt <= 0 ? reps * 8 : Math.max(reps + 1, Math.ceil((reps * minMs * 1.2) / dt));
  }
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times several contenders side by side. After `warmup` calls each, every round
 * alternates the contenders in slices of about `sliceMs` (a few calls each) until
 * each has run for `minMs`: the shared machine's speed swings by tens of percent
 * within seconds, and fine alternation makes every phase hit all contenders alike.
 * Returns seconds per call, `[contender][round]`.
 */
export function interleavedRounds(
  contenders: (() => void)[],
  opts: { rounds?: number; minMs?: number; warmup?: number; sliceMs?: number } = {},
): number[][] {
  return slicedRounds(contenders, opts, false).inCache;
}

/**
 * {@link interleavedRounds} for contenders whose buffers the others evict: each
 * slice starts with one more call, timed apart (`firstCalls`: its operands
 * partly evicted by the other contenders' calls since its last slice), so that
 * `inCache` times the slice's other calls, which find their operands where the
 * previous call left them. Returns seconds per call, `[contender][round]`.
 */
export function interleavedRoundsFirstApart(
  contenders: (() => void)[],
  opts: { rounds?: number; minMs?: number; warmup?: number; sliceMs?: number } = {},
): { inCache: number[][]; firstCalls: number[][] } {
  return slicedRounds(contenders, opts, true);
}

function slicedRounds(
  contenders: (() => void)[],
  opts: { rounds?: number; minMs?: number; warmup?: number; sliceMs?: number },
  firstApart: boolean,
): { inCache: number[][]; firstCalls: number[][] } {
  const rounds = opts.rounds ?? 5, minMs = opts.minMs ?? 60, warmup = opts.warmup ?? 3, sliceMs = opts.sliceMs ?? 2;
  const reps = contenders.map((fn) => {
    for (let i = 0; i < warmup; i++) fn();
    const t0 = performance.now();
    fn();
    const dt = performance.now() - t0;
    return Math.max(1, Math.round(sliceMs / Math.max(dt, 1e-3)));
  });
  const inCache: number[][] = contenders.map(() => []), firstCalls: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const total = contenders.map(() => 0), calls = contenders.map(() => 0), firstTotal = contenders.map(() => 0), firsts = contenders.map(() => 0);
    while (Math.min(...total) < minMs) {
      contenders.forEach((fn, i) => {
        if (firstApart) {
          const t1 = performance.now();
          fn();
          firstTotal[i] += performance.now() - t1;
          firsts[i]++;
        }
        const t0 = performance.now();
        for (let k = 0; k < reps[i]; k++) fn();
        total[i] += performance.now() - t0;
        calls[i] += reps[i];
      });
    }
    contenders.forEach((_, i) => {
      inCache[i].push(total[i] / 1000 / calls[i]);
      if (firstApart) firstCalls[i].push(firstTotal[i] / 1000 / firsts[i]);
    });
  }
  return { inCache, firstCalls };
}

/** {@link interleavedRounds}, reduced to each contender's median seconds per call. */
export function interleaved(contenders: (() => void)[], opts: { rounds?: number; minMs?: number; warmup?: number; sliceMs?: number } = {}): number[] {
  return interleavedRounds(contenders, opts).map(median);
}

/** Median over rounds of `b[r] / a[r]`: how many times faster `a` ran than `b`, round by round. */
export function medianRatio(a: number[], b: number[]): number {
  return median(a.map((x, r) => b[r] / x));
}

/** Lowest and highest over rounds of `b[r] / a[r]`: how far the per-round ratios behind {@link medianRatio} spread. */
export function ratioRange(a: number[], b: number[]): [number, number] {
  const rs = a.map((x, r) => b[r] / x);
  return [Math.min(...rs), Math.max(...rs)];
}

/** Async variant of {@link timePerCall}. */
export async function timePerCallAsync(fn: () => Promise<void>, minMs: number): Promise<number> {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    const dt = performance.now() - t0;
    if (dt >= minMs) return dt / 1000 / reps;
    reps = dt <= 0 ? reps * 8 : Math.max(reps + 1, Math.ceil((reps * minMs * 1.2) / dt));
  }
}

/**
 * The benches' slices (see interleavedRoundsAsync), milliseconds: timed
 * 400 ms at a stretch, the 2-core machine's slow phases fell on some
 * contenders and not others, and one `bench --workers` run's per-round
 * speed-ups spread over 0.96-1.93x (inference 1.03-2.33x); in slices of 100
 * ms over 1.42-1.77x (1.27-2.03x) in the same hour.
 */
export const ROUND_SLICE_MS = 100;

/**
 * Async variant of {@link interleavedRounds} for contenders that must be awaited
 * (and may take seconds per call): warm-up, then rounds timing each contender
 * for at least `minMs`. Without `sliceMs`, a round times each contender in
 * turn, `minMs` at a stretch; with it, a round alternates the contenders in
 * slices of about `sliceMs` (whole calls) until each has run `minMs`, so
 * that a slow phase of the machine shorter than a round falls on all of them
 * (one that has run `minMs` sits out the rest of the round). `settle(i)`, if
 * given, is awaited untimed after each of contender i's warm-ups, stretches
 * and slices: what a contender leaves running (a peer process's threads
 * spin-waiting for their next task) ends before the next one is timed.
 * Returns seconds per call, `[contender][round]`.
 */
export async function interleavedRoundsAsync(
  contenders: (() => Promise<void>)[],
  opts: { rounds?: number; minMs?: number; warmup?: number; sliceMs?: number; settle?: (i: number) => Promise<void> | void } = {},
): Promise<number[][]> {
  const rounds = opts.rounds ?? 5, minMs = opts.minMs ?? 300, warmup = opts.warmup ?? 2, sliceMs = opts.sliceMs;
  const settle = async (i: number) => { await opts.settle?.(i); };
  // Warm-up; its last call's milliseconds size the slices (with slices, one call at least).
  const lastMs = contenders.map(() => 0), first = Math.max(warmup, sliceMs === undefined ? 0 : 1);
  for (let c = 0; c < contenders.length; c++) {
    for (let i = 0; i < first; i++) {
      const t0 = performance.now();
      await contenders[c]();
      lastMs[c] = performance.now() - t0;
    }
    if (first > 0) await settle(c);
  }
  const samples: number[][] = contenders.map(() => []);
  if (sliceMs === undefined) {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < contenders.length; i++) {
        samples[i].push(await timePerCallAsync(contenders[i], minMs));
        await settle(i);
      }
    }
    return samples;
  }
  const reps = lastMs.map((ms) => Math.max(1, Math.round(sliceMs / Math.max(ms, 1e-3))));
  for (let r = 0; r < rounds; r++) {
    const total = contenders.map(() => 0), calls = contenders.map(() => 0);
    while (Math.min(...total) < minMs) {
      for (let i = 0; i < contenders.length; i++) {
        if (total[i] >= minMs) continue; // a slow one (a call longer than a slice) has had its share
        const t0 = performance.now();
        for (let k = 0; k < reps[i]; k++) await contenders[i]();
        total[i] += performance.now() - t0;
        calls[i] += reps[i];
        await settle(i);
      }
    }
    contenders.forEach((_, i) => samples[i].push(total[i] / 1000 / calls[i]));
  }
  return samples;
}

/** An untimed pause of `ms` (none for 0), for {@link interleavedRoundsAsync}'s `settle`. */
export function pause(ms: number | undefined): Promise<void> | void {
  if (ms) return new Promise((resolve) => setTimeout(resolve, ms));
}

/** {@link interleavedRoundsAsync}, reduced to each contender's median seconds per call. */
export async function interleavedAsync(contenders: (() => Promise<void>)[], opts: { rounds?: number; minMs?: number; warmup?: number } = {}): Promise<number[]> {
  return (await interleavedRoundsAsync(contenders, opts)).map(median);
}
