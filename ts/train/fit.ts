/**
 * The training loop of Sequential.fit over its engine: epochs of shuffled
 * batches, each step on this thread or on a worker pool (both finished by
 * finishStep), callbacks, validation, and the checks that stop a diverged
 * run before it can be saved.
 */
import { netOf, type HasNet, type Net } from '../engine/net.js';
import type { Dataset } from '../engine/types.js';
import { LEAF_SIZE, leafCount } from '../layers/step.js';
import { Optimizer } from '../optim/optimizer.js';
import { availableCores, checkWorkers, type CreateWorker } from '../parallel/group.js';
import { TrainingPool } from '../parallel/pool.js';
import { Rng } from '../rng.js';
import { checkAugment, type Augment } from '../data/augment.js';
import type { WeightTensor } from '../engine/types.js';
import { epochEnded, trainBegan } from '../optim/plateau.js';
import { finishStep, TrainingDivergedError, trainStep } from './step.js';

/** Per-epoch (and per-batch) numbers reported to callbacks and in the history. */
export interface EpochLogs {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  imagesPerSecond: number;
  seconds: number;
  learningRate: number;
  /**
   * With workers: the share of a step they spent waiting at barriers for one
   * another, averaged over workers and the epoch's steps (see WAIT_WARNING).
   */
  workerWait?: number;
}

export interface BatchLogs {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  learningRate: number;
}

/** What a callback may read and do of the training it watches (see Callbacks.setContext). */
export interface TrainingContext {
  /** Stops training after the current step (as the model's stopTraining). */
  stop(): void;
  /** Copies of the model's tensors (as model.getWeights()). */
  getWeights(): WeightTensor[];
  /** Writes tensors back (as model.setWeights()). */
  setWeights(weights: readonly WeightTensor[]): void;
  /** The optimiser training the model. */
  readonly optimizer: Optimizer;
  /** Tells the user something (fit's onWarning callbacks). */
  warn(message: string): void;
}

/**
 * Hooks called during `fit`: one object, or a list of them (called in order),
 * such as earlyStopping() (train/callbacks.ts) and your own.
 */
export interface Callbacks {
  /** Called first, with what the callback may do of this training (stop it, read and restore weights). */
  setContext?(ctx: TrainingContext): void;
  onTrainBegin?(): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchEnd?(logs: BatchLogs): void | Promise<void>;
  onEpochEnd?(logs: EpochLogs): void | Promise<void>;
  onTrainEnd?(history: History): void | Promise<void>;
  /** Problems worth telling the user (e.g. a network stuck at chance level). */
  onWarning?(message: string): void;
}

/** Options of `fit`. */
export interface FitOptions {
  optimizer: Optimizer;
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seed of shuffling and dropout (default: the model seed). */
  seed?: number;
  validationData?: Dataset;
  callbacks?: Callbacks | readonly Callbacks[];
  /** Stop after this many training steps (for tests, benchmarks and quick runs). */
  maxSteps?: number;
  /**
   * Worker threads to split each batch across (Node; default 1: this thread).
   * Any count gives the same bits as 1. Each worker holds its own copy of the
   * weights and its activations; the optimiser state stays here.
   */
  workers?: number;
  /** In a browser, where workers need it: makes each Web Worker (see CreateWorker in parallel/group.ts). */
  createWorker?: CreateWorker;
  /**
   * Random changes to each training image, seeded by the step and the
   * image's place in its batch (the same bits for any worker count):
   * `{ shift: 2, flip: true, rotate: 10, scale: 0.1, brightness: 0.2, contrast: 0.2 }`
   * (see data/augment.ts). u8 pixels only; validation and test images are not changed.
   */
  augment?: Augment;
}

export interface History {
  epochs: EpochLogs[];
  /** Whether training ended early through `stopTraining` or `maxSteps`. */
  stopped: boolean;
  steps: number;
}

/**
 * Above this share of a step spent waiting at barriers, fit warns once: far
 * above what workers on idle cores wait, and about where another busy process
 * makes 2 workers train slower than 1 (see "Tuning constants",
 * docs/benchmarks.md). Only steps after the workers' first WAIT_WARMUP_MS
 * count (a new worker's first steps compile its code and wait long), and at
 * least WAIT_STEPS of them.
 */
export const WAIT_WARNING = 0.3;
const WAIT_WARMUP_MS = 3000, WAIT_STEPS = 20;

/** Watches how long a pool's workers wait for one another at barriers (see WAIT_WARNING). */
class WaitWatch {
  private readonly warmAt = performance.now() + WAIT_WARMUP_MS;
  private warm = false;
  private warned = false;
  /** The epoch's totals when the warm-up ended in it, and the totals since the warm-up. */
  private atWarm: Totals | null = null;
  private readonly since: Totals = { waitMs: 0, stepMs: 0, steps: 0 };

  constructor(private readonly pool: TrainingPool) {}

  /** After each step. */
  stepDone(): void {
    if (this.warm || performance.now() <= this.warmAt) return;
    this.warm = true;
    this.atWarm = this.totals();
  }

  /** At an epoch's end (its timing started at its first step): its wait share, and a warning the first time the share since the warm-up is large. */
  epochDone(epoch: number): { share: number; warning: string | null } {
    const now = this.totals();
    if (this.warm) {
      const before = this.atWarm ?? { waitMs: 0, stepMs: 0, steps: 0 };
      this.since.waitMs += now.waitMs - before.waitMs;
      this.since.stepMs += now.stepMs - before.stepMs;
      this.since.steps += now.steps - before.steps;
      this.atWarm = null;
    }
    const since = this.since.stepMs > 0 ? this.since.waitMs / this.since.stepMs : 0;
    let warning: string | null = null;
    if (!this.warned && this.since.steps >= WAIT_STEPS && since > WAIT_WARNING) {
      this.warned = true;
      warning = `the ${this.pool.size} workers waited ${(since * 100).toFixed(0)}% of each step for one another at barriers (${this.since.steps} steps to epoch ${epoch + 1}): `
        + 'other work is probably using the cores, and fewer workers may train faster (any worker count gives the same bits)';
    }
    return { share: now.stepMs > 0 ? Math.min(1, now.waitMs / now.stepMs) : 0, warning };
  }

  private totals(): Totals {
    const t = this.pool.timing();
    return { waitMs: t.wait * t.steps, stepMs: t.step * t.steps, steps: t.steps };
  }
}

interface Totals { waitMs: number; stepMs: number; steps: number }

const yieldToEventLoop = () => new Promise<void>((r) => setTimeout(r, 0));

const HOOKS = ['setContext', 'onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd', 'onWarning'];

/** Several callbacks as one: each hook calls theirs in order. */
function combine(list: readonly Callbacks[]): Required<Omit<Callbacks, 'setContext'>> & { setContext(ctx: TrainingContext): void } {
  return {
    setContext: (ctx) => { for (const c of list) c.setContext?.(ctx); },
    onTrainBegin: async () => { for (const c of list) await c.onTrainBegin?.(); },
    onEpochBegin: async (e) => { for (const c of list) await c.onEpochBegin?.(e); },
    onBatchEnd: async (l) => { for (const c of list) await c.onBatchEnd?.(l); },
    onEpochEnd: async (l) => { for (const c of list) await c.onEpochEnd?.(l); },
    onTrainEnd: async (h) => { for (const c of list) await c.onTrainEnd?.(h); },
    onWarning: (m) => { for (const c of list) c.onWarning?.(m); },
  };
}

/** fit's callbacks, one object or a list, as one. */
function callbacksOf(o: FitOptions): ReturnType<typeof combine> {
  return combine(Array.isArray(o.callbacks) ? o.callbacks : o.callbacks === undefined ? [] : [o.callbacks as Callbacks]);
}

/** Validates fit's options, naming what is missing or wrong. */
function checkFitOptions(o: FitOptions): void {
  if (typeof o !== 'object' || o === null) throw new Error('fit: options are required: fit(data, { optimizer: sgd({ learningRate: 0.01 }), epochs, batchSize })');
  if (!(o.optimizer instanceof Optimizer)) {
    throw new Error(`fit: options.optimizer must be an optimizer such as sgd({ learningRate: 0.01 }) or adam(), got ${o.optimizer === undefined ? 'nothing' : typeof o.optimizer}`);
  }
  for (const k of ['epochs', 'batchSize', 'maxSteps'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`fit: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (o.workers !== undefined) checkWorkers(o.workers, 'fit');
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new Error(`fit: seed must be an integer, got ${JSON.stringify(o.seed)}`);
  const list = Array.isArray(o.callbacks) ? o.callbacks : o.callbacks === undefined ? [] : [o.callbacks];
  list.forEach((c, i) => {
    const where = Array.isArray(o.callbacks) ? `callbacks[${i}]` : 'callbacks';
    if (typeof c !== 'object' || c === null) throw new Error(`fit: ${where} must be an object of functions such as { onEpochEnd(logs) {} }`);
    for (const [k, f] of Object.entries(c)) {
      if (HOOKS.includes(k) && typeof f !== 'function') throw new Error(`fit: ${where}.${k} must be a function, got ${typeof f}`);
    }
  });
}

/**
 * How many of `workers` a step of batches of `batchSize` from `count`
 * examples can use: one per gradient leaf of LEAF_SIZE examples at most (the
 * others would only hold memory).
 */
export function usefulWorkers(workers: number, batchSize: number, count: number): number {
  return Math.max(1, Math.min(workers, leafCount(Math.min(batchSize, count))));
}

/** What fit reads and resets of the model that runs it: the flag a callback or a signal handler sets to stop after the current step. */
export interface StopFlag {
  stopTraining: boolean;
}

/**
 * Sequential.fit over its engine: checks the options and data, starts a
 * worker pool when `workers` > 1 (ended however fit ends), and runs the
 * epochs. Disposing the engine meanwhile stops the run at its next step.
 */
export async function fitNet(net: Net, data: Dataset, o: FitOptions, stop: StopFlag): Promise<History> {
  checkFitOptions(o);
  data = net.checkDataset(data, 'fit data');
  const validationData = o.validationData ? net.checkDataset(o.validationData, 'validation data') : undefined;
  const epochs = o.epochs ?? 1, batchSize = o.batchSize ?? 32;
  const asked = o.workers ?? 1, workers = usefulWorkers(asked, batchSize, data.count), batch = Math.min(batchSize, data.count);
  const warn = (m: string) => callbacksOf(o).onWarning(m);
  if (workers < asked) {
    warn(`${asked} workers asked for, but a batch of ${batch} examples has ${leafCount(batch)} gradient leaves of ${LEAF_SIZE}, and a worker computes whole leaves: `
      + `starting ${workers} (any worker count gives the same bits)`);
  }
  if (workers > 1) {
    const cores = await availableCores();
    if (workers > cores) {
      warn(`${workers} workers on ${cores} cores: they take turns on the cores and wait for one another at every barrier, `
        + `so training is likely slower than with ${cores} (any worker count gives the same bits)`);
    }
  }
  const augment = o.augment === undefined ? undefined : checkAugment(o.augment, 'fit');
  if (augment && !(data.images instanceof Uint8Array)) throw new Error('fit: augment transforms u8 pixels (0..255); these images are a Float32Array');
  const pool = workers > 1 ? await TrainingPool.create(net, data, workers, batch, o.createWorker, undefined, undefined, augment ?? null) : null;
  if (pool) pools.set(net, pool);
  try {
    return await runEpochs(net, data, { ...o, validationData, augment }, epochs, batchSize, pool, stop);
  } finally {
    pools.delete(net);
    await pool?.dispose();
  }
}

/** The worker pools of the fits running now, by engine. */
const pools = new WeakMap<Net, TrainingPool>();

/** The worker pool a running fit of `model` drives (its size, workers and timing), or null when none runs or it trains on this thread. */
export function activePool(model: HasNet): TrainingPool | null {
  return pools.get(netOf(model)) ?? null;
}

/** A training step whose gradients a worker pool computes; finished here. */
async function poolStep(net: Net, pool: TrainingPool, idx: Uint32Array, from: number, n: number, optimizer: Optimizer, stepSeed: number): Promise<{ loss: number; correct: number }> {
  const t0 = performance.now();
  const r = await pool.step(idx, from, n, stepSeed);
  net.checkAlive(); // disposed while the workers computed: no update into freed memory
  const updateMs = finishStep(net, optimizer, r.loss);
  pool.countStep(performance.now() - t0, pool.lastMainMs + updateMs);
  return r;
}

/** Steps a first epoch needs before its accuracy alone can say the network is not learning. */
const STUCK_MIN_STEPS = 20;

/**
 * After the first epoch: warns when the network looks stuck, i.e. its accuracy
 * over the epoch's second half is within a tenth of the way from chance
 * (1 / classes) to 100%, over at least STUCK_MIN_STEPS steps or with ReLU
 * outputs that are almost all zero. A short epoch's accuracy is mostly that
 * of the untrained network, and a binary classifier's chance is 50%, so
 * neither alone is taken for a stuck one.
 */
function stuckWarning(net: Net, steps: number, lateAccuracy: number, warn: (m: string) => void): void {
  const chance = 1 / net.classes;
  if (!(lateAccuracy < chance + 0.1 * (1 - chance))) return;
  const dead = net.activationStats().filter((s) => s.zeroFraction > 0.95).map((s) => `${s.layer} ${(s.zeroFraction * 100).toFixed(0)}% zero`);
  if (steps < STUCK_MIN_STEPS && dead.length === 0) return;
  warn(`training accuracy over the second half of the first epoch is ${(lateAccuracy * 100).toFixed(1)}%, about chance level (${(chance * 100).toFixed(1)}%): the network is not learning`
    + (dead.length ? ` (dead ReLU outputs: ${dead.join(', ')})` : '') + '; try another seed, initialiser or a lower learning rate');
}

async function runEpochs(net: Net, data: Dataset, o: FitOptions, epochs: number, batchSize: number, pool: TrainingPool | null, stop: StopFlag): Promise<History> {
  const cb = callbacksOf(o);
  cb.setContext({
    stop: () => { stop.stopTraining = true; },
    getWeights: () => net.getWeights(),
    setWeights: (w) => net.setWeights(w),
    optimizer: o.optimizer,
    warn: (m) => cb.onWarning(m),
  });
  const rng = new Rng((o.seed ?? net.seed) + 0x5eed);
  const idx = Uint32Array.from({ length: data.count }, (_, i) => i);
  const batches = Math.ceil(data.count / batchSize);
  const history: History = { epochs: [], stopped: false, steps: 0 };
  stop.stopTraining = false;
  trainBegan(o.optimizer);
  await cb.onTrainBegin();
  let lastYield = performance.now();
  const waits = pool ? new WaitWatch(pool) : null;
  for (let epoch = 0; epoch < epochs && !history.stopped; epoch++) {
    await cb.onEpochBegin(epoch);
    pool?.resetTiming();
    if (o.shuffle ?? true) rng.shuffle(idx);
    const t0 = performance.now();
    let lossSum = 0, correct = 0, seen = 0, lateCorrect = 0, lateSeen = 0;
    for (let b = 0; b < batches; b++) {
      const from = b * batchSize, n = Math.min(batchSize, data.count - from);
      const lr = o.optimizer.learningRate;
      net.checkAlive();
      const r = pool ? await poolStep(net, pool, idx, from, n, o.optimizer, rng.seed53()) : trainStep(net, data, idx, from, n, o.optimizer, rng.seed53(), o.augment);
      history.steps++;
      waits?.stepDone();
      lossSum += r.loss * n;
      correct += r.correct;
      seen += n;
      if (2 * b >= batches) { lateCorrect += r.correct; lateSeen += n; }
      const elapsed = (performance.now() - t0) / 1000;
      await cb.onBatchEnd({ epoch, batch: b, batches, loss: r.loss, accuracy: r.correct / n, imagesPerSecond: seen / Math.max(elapsed, 1e-9), learningRate: lr });
      if (performance.now() - lastYield > 50) {
        await yieldToEventLoop(); // lets signal handlers and UIs run
        lastYield = performance.now();
      }
      if (stop.stopTraining || (o.maxSteps !== undefined && history.steps >= o.maxSteps)) {
        history.stopped = true;
        break;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const logs: EpochLogs = { epoch, loss: lossSum / seen, accuracy: correct / seen, imagesPerSecond: seen / seconds, seconds, learningRate: o.optimizer.learningRate };
    if (waits) {
      const w = waits.epochDone(epoch);
      logs.workerWait = w.share;
      if (w.warning) cb.onWarning(w.warning);
    }
    // The last step's update is seen by no later loss: check the weights themselves.
    const bad = net.firstNonFiniteParam();
    if (bad) throw new TrainingDivergedError(`training diverged: ${bad} is not finite after step ${o.optimizer.iterations} (epoch ${epoch + 1}); lower the learning rate`);
    if (o.validationData) {
      const v = net.evaluate(o.validationData, { batchSize: Math.max(batchSize, 256) });
      if (!Number.isFinite(v.loss)) {
        throw new TrainingDivergedError(`training diverged: validation loss is ${v.loss} after step ${o.optimizer.iterations} (epoch ${epoch + 1}); lower the learning rate`);
      }
      logs.valLoss = v.loss;
      logs.valAccuracy = v.accuracy;
    }
    history.epochs.push(logs);
    if (epoch === 0 && !history.stopped) stuckWarning(net, batches, lateSeen ? lateCorrect / lateSeen : logs.accuracy, cb.onWarning);
    epochEnded(o.optimizer, logs, cb.onWarning);
    await cb.onEpochEnd(logs);
    if (stop.stopTraining) history.stopped = true;
  }
  await cb.onTrainEnd(history);
  return history;
}
