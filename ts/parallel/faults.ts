/** Faults tests inject into a pool's workers through its control table (C.FAULT): how the pools meet a worker that throws, dies, hangs or is slow. */
import { C } from './layout.js';

/**
 * Tests: how an injected fault fails a worker (see C.FAULT): it throws, its
 * thread ends, it never comes back, or it is slow (inference: 20 ms before
 * each chunk; training: 20 ms a gradient leaf it computes, after handing its
 * leaves on, as a slower core would take longer for more work). Two faults
 * let tests assert behaviour without racing the clock, however loaded the
 * machine: 'heavy' (training) reports 1 s of compute a leaf more than it
 * took, without sleeping, so the balancer sees a far slower worker; 'late'
 * holds the worker back until the others are done with what it would race
 * them for (inference: until every chunk is taken; training: until every
 * gradient block is combined).
 */
export const FAULTS = ['throw', 'exit', 'hang', 'slow', 'heavy', 'late'] as const;
export type Fault = (typeof FAULTS)[number];

/** C.FAULT's value that injects `how` into worker `w`. */
export function faultCode(w: number, how: Fault): number {
  return 8 * (w + 1) + FAULTS.indexOf(how);
}

/** The fault injected into worker `w` (see C.FAULT), if any. */
export function faultFor(ctrl: Int32Array, w: number): Fault | null {
  const f = Atomics.load(ctrl, C.FAULT);
  return f !== 0 && f >> 3 === w + 1 ? FAULTS[f & 7] : null;
}

/** The 'slow' fault: this thread sleeps `ms` (20 by default). */
export function slowDown(ms = 20): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
