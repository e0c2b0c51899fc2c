/**
 * How a worker thread waits for the others: spin, then sleep on Atomics,
 * with its adaptive spin and its waiting time held in a Waiter (one per
 * thread: see `waiter`).
 */
import { C, PoolAborted, PoolStalled } from './layout.js';

/**
 * How long a waiting thread spins before it sleeps, adapted to how its waits
 * end. Waking a sleeping thread costs far more than a short spin, and most
 * barrier waits of a step end within a couple of milliseconds (the other
 * worker a little slower), so spinning up to SPIN_MAX_MS pays. But when the
 * other worker is late because it is not running (more runnable threads than
 * cores), spinning takes the core it needs. So a wait that outlasts
 * SPIN_MAX_MS drops the spin to SPIN_MIN_MS, and each shorter wait lets it
 * grow back by SPIN_GROWTH. The measurements behind the three numbers are in
 * "Tuning constants", docs/benchmarks.md.
 */
export const SPIN_MAX_MS = 2;
export const SPIN_MIN_MS = 0.1;
/** How much a wait shorter than SPIN_MAX_MS grows the spin. */
export const SPIN_GROWTH = 1.05;

/** Spins while `busy()` holds, for at most `ms`; returns whether it stopped holding. */
export function spinWhile(busy: () => boolean, ms: number): boolean {
  const until = performance.now() + ms;
  for (let k = 0; busy(); k++) if ((k & 1023) === 1023 && performance.now() > until) return false;
  return true;
}

/** One thread's waiting: its current spin and the milliseconds it has waited at barriers. */
export class Waiter {
  /** The spin before sleeping, milliseconds. */
  spinMs = SPIN_MAX_MS;
  /** Milliseconds waited in barriers and for other workers' leaves (read by the worker's timing). */
  barrierWaitMs = 0;

  /** Adapts the spin to a wait that lasted `ms`. */
  waited(ms: number): void {
    this.spinMs = ms > SPIN_MAX_MS ? SPIN_MIN_MS : Math.min(SPIN_MAX_MS, this.spinMs * SPIN_GROWTH);
  }

  /**
   * Waits until ctrl[i] differs from `value`: spins (see SPIN_MAX_MS), then
   * sleeps; throws PoolAborted when the pool is aborted, PoolStalled after
   * `stallMs`.
   */
  waitChange(ctrl: Int32Array, i: number, value: number, stallMs = Infinity): void {
    this.waitFor(ctrl, ctrl, i, (v) => v !== value, stallMs, 'arrived', ' at a barrier');
  }

  /**
   * Waits until arr[i] holds `value` (set by another worker, then notified), as
   * waitChange waits. Counts as waiting (barrierWaitMs).
   */
  waitUntil(ctrl: Int32Array, arr: Int32Array, i: number, value: number, stallMs = Infinity): void {
    const t0 = performance.now();
    try {
      this.waitFor(ctrl, arr, i, (v) => v === value, stallMs, 'handed on its leaf gradients', '');
    } finally {
      this.barrierWaitMs += performance.now() - t0;
    }
  }

  /** Waits until done(arr[i]); ctrl holds the pool's abort flag; the stall message says the others have not `did` (`where`). */
  private waitFor(ctrl: Int32Array, arr: Int32Array, i: number, done: (v: number) => boolean, stallMs: number, did: string, where: string): void {
    const t0 = performance.now();
    if (spinWhile(() => !done(Atomics.load(arr, i)), this.spinMs)) return this.waited(performance.now() - t0);
    for (let v = Atomics.load(arr, i); !done(v); v = Atomics.load(arr, i)) {
      if (Atomics.load(ctrl, C.ABORT) !== 0) throw new PoolAborted('pool aborted');
      if (performance.now() - t0 > stallMs) throw new PoolStalled(`no other worker ${did} within ${stallMs} ms${where}`);
      Atomics.wait(arr, i, v, Math.min(200, stallMs));
    }
    this.waited(performance.now() - t0);
  }

  /**
   * Waits until all `workers` have arrived (a generation counter); throws
   * PoolStalled after `stallMs`. While the others are still on their way, runs
   * `idle()` again and again until it says it had nothing to do (work any
   * worker may take, see shard-trainer.ts); its time does not count as waiting.
   */
  barrier(ctrl: Int32Array, workers: number, stallMs = Infinity, idle?: () => boolean): void {
    const t0 = performance.now();
    let busy = 0;
    try {
      busy = this.arrive(ctrl, workers, stallMs, idle);
    } finally {
      this.barrierWaitMs += performance.now() - t0 - busy;
    }
  }

  /** Arrives at the barrier and waits for it; returns the milliseconds spent in `idle`. */
  private arrive(ctrl: Int32Array, workers: number, stallMs: number, idle?: () => boolean): number {
    const gen = Atomics.load(ctrl, C.BAR_GEN);
    if (Atomics.add(ctrl, C.BAR_COUNT, 1) === workers - 1) {
      Atomics.store(ctrl, C.BAR_COUNT, 0);
      Atomics.add(ctrl, C.BAR_GEN, 1);
      Atomics.notify(ctrl, C.BAR_GEN);
      return 0;
    }
    let busy = 0;
    while (idle && Atomics.load(ctrl, C.BAR_GEN) === gen) {
      const t = performance.now(), did = idle();
      busy += performance.now() - t;
      if (!did) break;
    }
    if (Atomics.load(ctrl, C.BAR_GEN) === gen) this.waitChange(ctrl, C.BAR_GEN, gen, stallMs);
    return busy;
  }
}

/** This thread's Waiter (each worker thread loads its own copy of this module). */
export const waiter = new Waiter();
