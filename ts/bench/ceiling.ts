/**
 * This machine's ceiling for a multi-worker training step: the speed-up that
 * pure f32x4 multiply-add (no memory traffic, no JavaScript) reaches on N
 * threads over one when it stops at as many barriers a step as the model's
 * step does, and a step lasts as long. Run in the same rounds as the training
 * contenders, it tells what the machine allows (a thread that is not running
 * holds up every barrier) from what the pool loses itself.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Backend, BackendName } from '../backend/load.js';
import { barrier, C, CMD, CTRL_LEN } from '../parallel/protocol.js';

/** What a probe thread gets. */
export interface ProbeInit {
  sab: SharedArrayBuffer;
  backend: BackendName;
  module: WebAssembly.Module;
  workers: number;
  barriers: number;
  iters: number;
}

const M = 0.999999, A = 1e-6;

/** One thread's part of a probe step: `barriers` intervals of `chunks` calls of the multiply-add loop, each ended by a barrier when `workers` > 1. */
export function probeStep(be: Backend, ctrl: Int32Array, workers: number, barriers: number, iters: number, chunks: number): void {
  for (let b = 0; b < barriers; b++) {
    for (let c = 0; c < chunks; c++) be.k.peak_madd(iters, M, A);
    if (workers > 1) barrier(ctrl, workers);
  }
}

export class BarrierProbe {
  private constructor(
    private readonly be: Backend, private readonly ctrl: Int32Array, private readonly threads: Worker[],
    private readonly workers: number, private readonly barriers: number, private readonly iters: number,
  ) {}

  /**
   * A probe for `workers` threads (this one and workers - 1 more) whose step
   * has `barriers` barriers and takes about `stepMs` on one thread.
   */
  static async create(be: Backend, workers: number, barriers: number, stepMs: number): Promise<BarrierProbe> {
    if (!be.module) throw new Error('bench: the barrier probe needs the compiled kernels module');
    let reps = 1000, ms = 0;
    for (; ms < 20; reps *= 2) {
      const t0 = performance.now();
      be.k.peak_madd(reps, M, A);
      ms = performance.now() - t0;
    }
    const iters = Math.max(1, Math.round(((reps / 2) * (stepMs / barriers / workers)) / ms));
    const sab = new SharedArrayBuffer(4 * CTRL_LEN), ctrl = new Int32Array(sab);
    Atomics.store(ctrl, C.THREADS, workers - 1);
    const init = (): ProbeInit => ({ sab, backend: be.name, module: be.module!, workers, barriers, iters });
    // The compiled script (from the TypeScript sources, as in tests, the built one).
    let url = new URL('./ceiling-worker.js', import.meta.url);
    if (!existsSync(url)) url = new URL('../../dist/bench/ceiling-worker.js', import.meta.url);
    const threads = Array.from({ length: workers - 1 }, () => new Worker(url, { workerData: init() }));
    await Promise.all(threads.map((t) => new Promise<void>((resolve, reject) => {
      t.once('message', () => resolve());
      t.once('error', reject);
    })));
    return new BarrierProbe(be, ctrl, threads, workers, barriers, iters);
  }

  /** The whole step's work on this thread alone, without barriers. */
  one(): void {
    probeStep(this.be, this.ctrl, 1, this.barriers, this.iters, this.workers);
  }

  /** The step on all threads, a share each, meeting at every barrier. */
  many(): void {
    const ctrl = this.ctrl;
    Atomics.store(ctrl, C.DONE, 0);
    Atomics.store(ctrl, C.CMD, CMD.STEP);
    Atomics.add(ctrl, C.SEQ, 1);
    Atomics.notify(ctrl, C.SEQ);
    probeStep(this.be, ctrl, this.workers, this.barriers, this.iters, 1);
    for (let d = Atomics.load(ctrl, C.DONE); d < this.workers - 1; d = Atomics.load(ctrl, C.DONE)) Atomics.wait(ctrl, C.DONE, d, 50);
  }

  async dispose(): Promise<void> {
    Atomics.store(this.ctrl, C.CMD, CMD.EXIT);
    Atomics.add(this.ctrl, C.SEQ, 1);
    Atomics.notify(this.ctrl, C.SEQ);
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}
