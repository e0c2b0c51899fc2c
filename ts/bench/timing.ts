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
 * Times several contenders side by side: after `warmup` calls each, runs `rounds`
 * rounds, each timing every contender once in turn (so drift of the shared machine
 * hits all of them alike), and returns each contender's median seconds per call.
 */
export function interleaved(contenders: (() => void)[], opts: { rounds?: number; minMs?: number; warmup?: number } = {}): number[] {
  const rounds = opts.rounds ?? 5, minMs = opts.minMs ?? 60, warmup = opts.warmup ?? 3;
  for (const fn of contenders) for (let i = 0; i < warmup; i++) fn();
  const samples: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    contenders.forEach((fn, i) => samples[i].push(timePerCall(fn, minMs)));
  }
  return samples.map(median);
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

/** Async variant of {@link interleaved}: warm-up, then rounds timing each contender in turn; medians. */
export async function interleavedAsync(contenders: (() => Promise<void>)[], opts: { rounds?: number; minMs?: number; warmup?: number } = {}): Promise<number[]> {
  const rounds = opts.rounds ?? 5, minMs = opts.minMs ?? 300, warmup = opts.warmup ?? 2;
  for (const fn of contenders) for (let i = 0; i < warmup; i++) await fn();
  const samples: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) samples[i].push(await timePerCallAsync(contenders[i], minMs));
  }
  return samples.map(median);
}
