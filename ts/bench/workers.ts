/**
 * `cnn-wasm bench --workers 1,2`: training and inference at several worker
 * counts and batch sizes, side by side in interleaved rounds, with PyTorch at
 * the same thread counts when the machine has it. Speed-ups are medians of
 * per-round ratios; the pool's timing says where a multi-worker step goes.
 */
import { initBackend, relaxedSupported } from '../backend/load.js';
import { createPreset } from '../models/presets.js';
import { optimizerFromConfig } from '../optim/optimizer.js';
import { InferencePool } from '../parallel/infer.js';
import { TrainingPool } from '../parallel/pool.js';
import { LEAF_SIZE, leafCount } from '../layers/step.js';
import { CeilingProbe } from './ceiling.js';
import { benchBatch } from './models.js';
import type { PeerRunner } from './peers.js';
import { findTorch, torchRunner } from './torch.js';
import { interleavedRoundsAsync, median, medianRatio, pause, ratioRange, ROUND_SLICE_MS } from './timing.js';

/** One measurement. `threads` is the worker count (cnn-wasm) or intra-op threads (PyTorch). */
export interface WorkerBenchRow {
  system: 'cnn-wasm' | 'pytorch';
  mode: 'train' | 'infer';
  batch: number;
  threads: number;
  imagesPerSecond: number;
  /** cnn-wasm: how many times faster than 1 worker (median of per-round ratios). */
  speedup?: number;
  /** cnn-wasm: the lowest and highest of those per-round ratios (how noisy the machine was). */
  speedupRange?: [number, number];
  /** cnn-wasm: how many times faster than PyTorch with as many threads (median of per-round ratios). */
  vsPytorch?: number;
}

/**
 * Where a multi-worker training step's time goes, ms per step (see
 * TrainingPool.timing), its barriers, and this machine's ceilings for such a
 * step (see ceiling.ts), how many times faster than one thread in the same
 * rounds: `ceiling`, pure multiply-add with as many barriers and as long a
 * step on as many threads; `independent`, as many threads each training its
 * share of the batch on a model of its own, without barriers.
 */
export interface StepTiming {
  batch: number; workers: number; step: number; main: number; copyIn: number; compute: number; wait: number; leafCopy: number; reduce: number;
  barriers: number; ceiling: number; independent: number;
  /** The share of steps whose leaves were split unevenly, by the workers' speed (see parallel/balance.ts). */
  uneven: number;
}

export interface WorkerBenchOptions {
  model: string;
  workers: number[];
  batches: number[];
  rounds?: number;
  /** Milliseconds each cnn-wasm contender runs before the rounds (default WARMUP_MS). */
  warmupMs?: number;
  /** Examples per inference call (default 2,048). */
  inferImages?: number;
  /** false: PyTorch is not measured even where it is installed (default true). */
  pytorch?: boolean;
  /** The build the workers run: 'relaxed' where the engine has relaxed SIMD (as 'auto' picks), else 'simd' (the default). */
  build?: WorkerBuild;
  onNote?(m: string): void;
}

/**
 * Why `workers` cannot all share one of the training `batches`, or null: a
 * worker computes whole gradient leaves, so a batch with fewer leaves than
 * workers would leave some idle and the bench would time fewer workers than
 * it names.
 */
export function workerBatchProblem(workers: readonly number[], batches: readonly number[]): string | null {
  const most = Math.max(...workers), batch = batches.find((b) => leafCount(b) < most);
  if (batch === undefined) return null;
  const leaves = leafCount(batch);
  return `a batch of ${batch} has ${leaves} gradient ${leaves === 1 ? 'leaf' : 'leaves'} of ${LEAF_SIZE} images, and a worker computes whole leaves: `
    + `${most} workers need --batch ${(most - 1) * LEAF_SIZE + 1} or more`;
}

/** The builds `bench --workers` measures (the scalar build is not a multi-core contender). */
export type WorkerBuild = 'relaxed' | 'simd';

/** The build `bench --workers` measures unless told: the relaxed build where this engine validates it, as 'auto' would pick. */
export function defaultWorkerBuild(): WorkerBuild {
  return relaxedSupported() ? 'relaxed' : 'simd';
}

/** How long each cnn-wasm contender (training and inference) warms up: a new worker's JIT settles in a few seconds. */
const WARMUP_MS = 3000;

export async function benchWorkers(o: WorkerBenchOptions): Promise<{ rows: WorkerBenchRow[]; timing: StepTiming[]; pytorch: string; build: WorkerBuild }> {
  const problem = workerBatchProblem(o.workers, o.batches);
  if (problem) throw new RangeError(`bench: ${problem}`);
  const build = o.build ?? defaultWorkerBuild();
  const be = await initBackend({ backend: build });
  const rounds = o.rounds ?? 5, workers = [...new Set([1, ...o.workers])].sort((a, b) => a - b);
  const torch = o.pytorch === false ? { missing: 'not measured (left out of --systems)' } : findTorch();
  const pytorch = 'missing' in torch ? torch.missing : `PyTorch ${torch.version}`;
  const rows: WorkerBenchRow[] = [], timing: StepTiming[] = [];
  const { model: probe } = createPreset(o.model, { backend: be });
  const spec = { layers: probe.layers.map((l) => l.config()), inputShape: probe.inputShape, classes: probe.classes };
  probe.dispose();
  const torchFor = async (batch: { images: Uint8Array; labels: Uint8Array }, threads: number): Promise<PeerRunner | null> =>
    'missing' in torch ? null : torchRunner(torch.python, spec, batch, threads);

  for (const batch of o.batches) {
    const b = benchBatch(batch);
    const data = { images: b.images, labels: b.labels, count: batch };
    const contenders: { threads: number; system: 'cnn-wasm' | 'pytorch'; fn: () => Promise<void>; close(): Promise<void> | void; pool?: TrainingPool; settleMs?: number }[] = [];
    for (const w of workers) {
      const { model, recipe } = createPreset(o.model, { backend: be, seed: 1 });
      const opt = optimizerFromConfig(recipe.optimizer);
      let step = 0;
      if (w === 1) {
        contenders.push({ threads: 1, system: 'cnn-wasm', fn: async () => { model.trainStep(data, null, 0, batch, opt, step++); }, close: () => { model.dispose(); opt.dispose(); } });
      } else {
        const pool = await TrainingPool.create(model.net, data, w, batch);
        contenders.push({
          threads: w, system: 'cnn-wasm', pool,
          fn: async () => {
            const t0 = performance.now();
            await pool.step(null, 0, batch, step++);
            const t1 = performance.now();
            opt.step(be, model.params());
            pool.countStep(performance.now() - t0, pool.lastMainMs + performance.now() - t1);
          },
          close: async () => { await pool.dispose(); model.dispose(); opt.dispose(); },
        });
      }
      const tr = await torchFor(b, w);
      if (tr) contenders.push({ threads: w, system: 'pytorch', fn: tr.train, close: () => tr.dispose(), settleMs: tr.settleMs });
    }
    // Warm-up, then the pools' timing counts the measured rounds only. V8
    // compiles each new worker's JavaScript on background threads for its
    // first seconds, which on a machine with as many cores as workers takes
    // time from the compute: cnn-wasm warms up for WARMUP_MS (10 steps at
    // least), PyTorch for 10 steps. One worker's last steps give the probe's step length.
    let oneMs = 0;
    for (const c of contenders) {
      const times = await warmUp(c, o.warmupMs ?? WARMUP_MS);
      if (c.system === 'cnn-wasm' && c.threads === 1) oneMs = median(times.slice(-10));
    }
    // Each pool's ceilings, 1 thread and as many as the pool: pure multiply-add
    // with its barriers and step length, and independent trainings of its shares.
    const probes = [];
    for (const c of contenders) {
      if (!c.pool) continue;
      const madd = await CeilingProbe.madd(be, c.threads, Math.round(c.pool.timing().barriers), oneMs);
      const solo = await CeilingProbe.train(be, c.threads, o.model, b.images, b.labels);
      await warmUp({ system: 'cnn-wasm', fn: async () => solo.many() }, o.warmupMs ?? WARMUP_MS); // new threads, as the pools'
      probes.push({ c, madd, solo });
    }
    for (const c of contenders) c.pool?.resetTiming();
    o.onNote?.(`training, batch ${batch}: ${contenders.map((c) => `${c.system} x${c.threads}`).join(', ')}, ${probes.map((p) => `ceilings x1, x${p.c.threads}`).join(', ')} (${rounds} interleaved rounds)`);
    const samples = await interleavedRoundsAsync([
      ...contenders.map((c) => c.fn),
      ...probes.flatMap(({ madd, solo }) => [madd, solo].flatMap((p) => [async () => p.one(), async () => p.many()])),
    ], { rounds, minMs: 400, warmup: 0, sliceMs: ROUND_SLICE_MS, settle: (i) => pause(contenders[i]?.settleMs) });
    addRows(rows, contenders, samples, 'train', batch);
    probes.forEach(({ c }, k) => {
      const [one, many, soloOne, soloMany] = samples.slice(contenders.length + 4 * k);
      const t = c.pool!.timing();
      timing.push({ batch, workers: c.threads, ...t, barriers: Math.round(t.barriers), ceiling: medianRatio(many, one), independent: medianRatio(soloMany, soloOne) });
    });
    for (const p of probes) { await p.madd.dispose(); await p.solo.dispose(); }
    for (const c of contenders) await c.close();
  }

  // Inference: one call of `inferImages` digits, split across the workers in chunks of INFER_CHUNK (64, parallel/infer.ts).
  const n = o.inferImages ?? 2048, b = benchBatch(n);
  const { model } = createPreset(o.model, { backend: be, seed: 1 });
  const inf: { threads: number; system: 'cnn-wasm' | 'pytorch'; fn: () => Promise<void>; close(): Promise<void> | void; settleMs?: number }[] = [];
  for (const w of workers) {
    if (w === 1) inf.push({ threads: 1, system: 'cnn-wasm', fn: async () => { model.predict(b.images); }, close: () => {} });
    else {
      const pool = await InferencePool.create(model, { workers: w });
      inf.push({ threads: w, system: 'cnn-wasm', fn: async () => { await pool.predict(b.images); }, close: () => pool.dispose() });
    }
    const tr = await torchFor(b, w);
    if (tr) inf.push({ threads: w, system: 'pytorch', fn: tr.infer, close: () => tr.dispose(), settleMs: tr.settleMs });
  }
  o.onNote?.(`inference of ${n} digits: ${inf.map((c) => `${c.system} x${c.threads}`).join(', ')}`);
  for (const c of inf) await warmUp(c, o.warmupMs ?? WARMUP_MS);
  const samples = await interleavedRoundsAsync(inf.map((c) => c.fn), { rounds, minMs: 400, warmup: 0, sliceMs: ROUND_SLICE_MS, settle: (i) => pause(inf[i].settleMs) });
  addRows(rows, inf, samples, 'infer', n);
  for (const c of inf) await c.close();
  model.dispose();
  return { rows, timing, pytorch, build };
}

/** Runs a contender 10 times, and a cnn-wasm one for `ms` at least; returns each call's milliseconds. */
async function warmUp(c: { system: string; fn: () => Promise<void> }, ms: number): Promise<number[]> {
  const t0 = performance.now(), times: number[] = [];
  while (times.length < 10 || (c.system === 'cnn-wasm' && performance.now() - t0 < ms)) {
    const t = performance.now();
    await c.fn();
    times.push(performance.now() - t);
  }
  return times;
}

function addRows(
  rows: WorkerBenchRow[], cs: { threads: number; system: 'cnn-wasm' | 'pytorch' }[], samples: number[][], mode: 'train' | 'infer', batch: number,
): void {
  const one = cs.findIndex((c) => c.system === 'cnn-wasm' && c.threads === 1);
  cs.forEach((c, i) => {
    const row: WorkerBenchRow = { system: c.system, mode, batch, threads: c.threads, imagesPerSecond: batch / median(samples[i]) };
    if (c.system === 'cnn-wasm') {
      if (c.threads > 1) {
        row.speedup = medianRatio(samples[i], samples[one]);
        row.speedupRange = ratioRange(samples[i], samples[one]);
      }
      const peer = cs.findIndex((p) => p.system === 'pytorch' && p.threads === c.threads);
      if (peer >= 0) row.vsPytorch = medianRatio(samples[i], samples[peer]);
    }
    rows.push(row);
  });
}
