/**
 * This machine's ceilings for a multi-worker training step, run in the same
 * rounds as the training contenders, to tell what the machine allows from
 * what the pool loses itself:
 *
 * - `madd`: pure f32x4 multiply-add (no memory traffic, no JavaScript) on N
 *   threads against one, stopping at as many barriers a step as the model's
 *   step does, a step lasting as long: a thread that is not running holds up
 *   every barrier.
 * - `train`: N independent trainings, each thread with a model of its own
 *   training the share of the batch a pool worker computes (whole leaves), joined once a step and
 *   never meeting at a barrier, against one thread training every share in
 *   turn: the same kernels on the same images per thread as a pool's step,
 *   so it also counts what both cores being busy costs the compute (shared
 *   caches, memory, the host).
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Backend, BackendName } from '../backend/load.js';
import type { Dataset, Sequential } from '../model.js';
import { createPreset } from '../models/presets.js';
import { optimizerFromConfig } from '../optim/optimizer.js';
import { C, CMD, CTRL_LEN } from '../parallel/layout.js';
import { waiter } from '../parallel/sync.js';
import { threadEntry } from '../parallel/group.js';
import { ownedImages } from '../layers/step.js';

/** What each probe thread does per step. */
export type ProbeWork =
  | { kind: 'madd'; barriers: number; iters: number }
  | { kind: 'train'; model: string; images: SharedArrayBuffer; labels: SharedArrayBuffer; batch: number };

/** What a probe thread gets. */
export interface ProbeInit {
  sab: SharedArrayBuffer;
  backend: BackendName;
  module: WebAssembly.Module;
  workers: number;
  /** This thread's index among the probe's threads (the calling thread is 0). */
  index: number;
  work: ProbeWork;
}

const M = 0.999999, A = 1e-6;

/** One thread's part of a multiply-add probe step: `barriers` intervals of `chunks` calls of the loop, each ended by a barrier when `workers` > 1. */
function maddStep(be: Backend, ctrl: Int32Array, workers: number, barriers: number, iters: number, chunks: number): void {
  for (let b = 0; b < barriers; b++) {
    for (let c = 0; c < chunks; c++) be.k.peak_madd(iters, M, A);
    if (workers > 1) waiter.barrier(ctrl, workers);
  }
}

/**
 * A probe thread's work: `share()` runs thread `index`'s part of a step (with
 * the others), `whole()` every thread's part in turn, alone.
 */
export function probeShares(be: Backend, ctrl: Int32Array, init: Omit<ProbeInit, 'sab' | 'module' | 'backend'>): { share(): void; whole(): void; dispose(): void; model?: Sequential } {
  const { workers, index, work } = init;
  if (work.kind === 'madd') {
    return {
      share: () => maddStep(be, ctrl, workers, work.barriers, work.iters, 1),
      whole: () => maddStep(be, ctrl, 1, work.barriers, work.iters, workers),
      dispose: () => {},
    };
  }
  const { model, recipe } = createPreset(work.model, { backend: be, seed: 1 });
  const opt = optimizerFromConfig(recipe.optimizer);
  const data: Dataset = { images: new Uint8Array(work.images), labels: new Uint8Array(work.labels), count: work.batch };
  // The pool's shares: whole leaves of the batch.
  const shares = Array.from({ length: workers }, (_, w) => ownedImages(work.batch, w, workers));
  let step = 0;
  const train = ([from, end]: [number, number]) => { model.trainStep(data, null, from, end - from, opt, step++); };
  return {
    model,
    share: () => train(shares[index]),
    whole: () => { for (const s of shares) train(s); },
    dispose: () => { model.dispose(); opt.dispose(); },
  };
}

export class CeilingProbe {
  private constructor(
    private readonly ctrl: Int32Array, private readonly threads: Worker[], private readonly workers: number,
    private readonly own: ReturnType<typeof probeShares>,
  ) {}

  /**
   * A multiply-add probe for `workers` threads (this one and workers - 1
   * more) whose step has `barriers` barriers and takes about `stepMs` on one
   * thread.
   */
  static async madd(be: Backend, workers: number, barriers: number, stepMs: number): Promise<CeilingProbe> {
    let reps = 1000, ms = 0;
    for (; ms < 20; reps *= 2) {
      const t0 = performance.now();
      be.k.peak_madd(reps, M, A);
      ms = performance.now() - t0;
    }
    const iters = Math.max(1, Math.round(((reps / 2) * (stepMs / barriers / workers)) / ms));
    return CeilingProbe.create(be, workers, { kind: 'madd', barriers, iters });
  }

  /** An independent-trainings probe: `workers` threads, each training `model` on its share of `batch` images (`images` [batch, 784] u8). */
  static async train(be: Backend, workers: number, model: string, images: Uint8Array, labels: Uint8Array): Promise<CeilingProbe> {
    const shared = (a: Uint8Array) => { const s = new SharedArrayBuffer(a.byteLength); new Uint8Array(s).set(a); return s; };
    return CeilingProbe.create(be, workers, { kind: 'train', model, images: shared(images), labels: shared(labels), batch: labels.length });
  }

  private static async create(be: Backend, workers: number, work: ProbeWork): Promise<CeilingProbe> {
    if (!be.module) throw new Error('bench: the ceiling probes need the compiled kernels module');
    const sab = new SharedArrayBuffer(4 * CTRL_LEN), ctrl = new Int32Array(sab);
    Atomics.store(ctrl, C.THREADS, workers - 1);
    const init = (index: number): ProbeInit => ({ sab, backend: be.name, module: be.module!, workers, index, work });
    // The compiled script (from the TypeScript sources, as in tests, the built one).
    let url = new URL('./ceiling-worker.js', import.meta.url);
    if (!existsSync(url)) url = new URL('../../dist/bench/ceiling-worker.js', import.meta.url);
    const t = threadEntry(url);
    const threads = Array.from({ length: workers - 1 }, (_, i) => new Worker(t.entry, { workerData: init(i + 1), eval: t.eval }));
    await Promise.all(threads.map((t) => new Promise<void>((resolve, reject) => {
      t.once('message', () => resolve());
      t.once('error', reject);
    })));
    return new CeilingProbe(ctrl, threads, workers, probeShares(be, ctrl, init(0)));
  }

  /** The whole step's work on this thread alone, without barriers. */
  one(): void {
    this.own.whole();
  }

  /** The step on all threads, a share each (meeting at every barrier of a multiply-add step). */
  many(): void {
    const ctrl = this.ctrl;
    Atomics.store(ctrl, C.DONE, 0);
    Atomics.store(ctrl, C.CMD, CMD.STEP);
    Atomics.add(ctrl, C.SEQ, 1);
    Atomics.notify(ctrl, C.SEQ);
    this.own.share();
    for (let d = Atomics.load(ctrl, C.DONE); d < this.workers - 1; d = Atomics.load(ctrl, C.DONE)) Atomics.wait(ctrl, C.DONE, d, 50);
  }

  async dispose(): Promise<void> {
    Atomics.store(this.ctrl, C.CMD, CMD.EXIT);
    Atomics.add(this.ctrl, C.SEQ, 1);
    Atomics.notify(this.ctrl, C.SEQ);
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.own.dispose();
  }
}
