/**
 * The training worker: owns the wasm backends and the model, so the page stays
 * responsive. Speaks the protocol in protocol.ts.
 */
import {
  createPreset, deserializeModel, importOnnx, initBackend, MNIST_NORMALIZATION, optimizerFromConfig, PRESET_NAMES, serializeModel, setBackend,
  type Backend, type CreateWorker, type Dataset, type Optimizer, type Sequential,
} from '../../ts/index.js';
import type { FromWorker, LayerMaps, ToWorker } from './protocol.js';
import { loadSample } from './data.js';
import { weightsHash } from './shared.js';
import { handleOwn } from './own.js';

// The builds as URLs (Vite emits them as assets): only the chosen one is
// fetched and compiled, and the compiled module is what the training workers
// instantiate too.
const wasm = {
  relaxed: new URL('../../pkg/kernels.relaxed.wasm', import.meta.url),
  simd: new URL('../../pkg/kernels.simd.wasm', import.meta.url),
  scalar: new URL('../../pkg/kernels.scalar.wasm', import.meta.url),
};

// The library's worker scripts, bundled by Vite as module workers.
const createWorker: CreateWorker = (kind) => kind === 'worker'
  ? new Worker(new URL('../../ts/parallel/worker.ts', import.meta.url), { type: 'module' })
  : new Worker(new URL('../../ts/parallel/infer-worker.ts', import.meta.url), { type: 'module' });

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as { postMessage(m: unknown, t: Transferable[]): void }).postMessage(m, transfer);

let backend: Backend | null = null;
let model: Sequential | null = null;
let modelName = 'lenet5-bn';
let optimizer: Optimizer | null = null;
let data: { train: Dataset; test: Dataset } | null = null;
let paused = false;
let training = false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function maps(m: Sequential, pick: (kind: string) => boolean): LayerMaps[] {
  return m.layers.filter((l) => pick(l.kind) && l.lastOutput()).map((l) => ({
    name: l.name, kind: l.kind, shape: l.outputShape, data: l.lastOutput()!.view.slice(0, l.outputSize),
  }));
}

function filters(m: Sequential): LayerMaps[] {
  return m.params().filter((p) => p.name.endsWith('/kernel') && p.shape.length === 4).map((p) => ({
    name: p.name, kind: 'filters', shape: p.shape, data: p.value.toArray(),
  }));
}

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  backend = await initBackend({ backend: msg.backend, wasm });
  data ??= await loadSample();
  model?.dispose();
  optimizer?.dispose();
  const p = createPreset(msg.model, { backend, seed: msg.seed });
  model = p.model;
  modelName = msg.model;
  optimizer = optimizerFromConfig(p.recipe.optimizer);
  const lr = p.recipe.optimizer.learningRate;
  post({ type: 'ready', backend: backend.name, model: msg.model, presets: PRESET_NAMES, summary: model.summary(), train: data.train.count, test: data.test.count,
    lr: typeof lr === 'number' ? lr : lr.lr, batchSize: p.recipe.batchSize, epochs: p.recipe.epochs });
  post({ type: 'filters', layers: filters(model) });
  insight(model, 0);
}

/** Guesses of the model on the held-out digits: the grid, the confusion matrix, the most confident mistakes, gradient norms. */
function insight(m: Sequential, step: number): void {
  const test = data!.test, n = test.count, k = 10, GRID = 48;
  const images = test.images as Uint8Array;
  const t0 = performance.now();
  const probs = m.predict(images); // forward alone, inference form, on this thread
  const forwardMs = (performance.now() - t0) / n;
  const guess = new Array<number>(n), conf = new Array<number>(n);
  const confusion = new Array<number>(k * k).fill(0);
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    guess[i] = best;
    conf[i] = probs[i * k + best];
    const label = test.labels[i];
    confusion[label * k + best]++;
    if (best === label) right++;
  }
  const wrong = [...Array(n).keys()].filter((i) => guess[i] !== test.labels[i]).sort((a, b) => conf[b] - conf[a]).slice(0, 12);
  const gradients = m.params().filter((p) => p.grad && p.name.endsWith('/kernel')).map((p) => {
    const g = p.grad!.view;
    let s2 = 0;
    for (let i = 0; i < g.length; i++) s2 += g[i] * g[i];
    return { name: p.name.replace('/kernel', ''), norm: Math.sqrt(s2) };
  });
  post({
    type: 'insight', step, accuracy: right / n, confusion, gradients, forwardMs,
    grid: { images: images.slice(0, GRID * 784), labels: Array.from(test.labels).slice(0, GRID), guesses: guess.slice(0, GRID), confidence: conf.slice(0, GRID) },
    mistakes: wrong.map((i) => ({ image: images.slice(i * 784, (i + 1) * 784), label: test.labels[i], guess: guess[i], confidence: conf[i] })),
  });
}

async function train(msg: Extract<ToWorker, { type: 'train' }>): Promise<void> {
  if (!model || !data || !backend) throw new Error('not initialised');
  if (training) return;
  training = true;
  const { recipe } = createPreset(modelName, { backend }); // only for the schedule shape
  const sched = recipe.optimizer.learningRate;
  const lr = typeof sched === 'number' ? msg.lr : { ...sched, lr: msg.lr };
  optimizer?.dispose();
  optimizer = optimizerFromConfig({ ...recipe.optimizer, learningRate: lr } as never);
  let last = 0, lastInsight = 0, steps = 0;
  try {
    const h = await model.fit(data.train, {
      optimizer, epochs: msg.epochs, batchSize: msg.batchSize, validationData: data.test, seed: 1, workers: msg.workers, createWorker,
      callbacks: {
        onBatchEnd: async (b) => {
          const now = performance.now();
          steps++;
          // The held-out view about once a second (1,000 digits: a few ms), and at an epoch's last batch.
          if (now - lastInsight > 1000 || b.batch === b.batches - 1) {
            lastInsight = now;
            insight(model!, steps);
          }
          if (now - last > 100 || b.batch === b.batches - 1) {
            last = now;
            post({ type: 'progress', epoch: b.epoch, epochs: msg.epochs, batch: b.batch, batches: b.batches, loss: b.loss, accuracy: b.accuracy, imagesPerSecond: b.imagesPerSecond });
          }
          while (paused) await sleep(50);
        },
        onEpochEnd: (l) => {
          post({ type: 'epoch', epoch: l.epoch, loss: l.loss, accuracy: l.accuracy, testLoss: l.valLoss!, testAccuracy: l.valAccuracy!, imagesPerSecond: l.imagesPerSecond });
          post({ type: 'filters', layers: filters(model!) });
        },
      },
    });
    post({ type: 'done', testAccuracy: h.epochs.length ? h.epochs[h.epochs.length - 1].valAccuracy! : NaN, stopped: h.stopped });
  } finally {
    training = false;
  }
}

/** Training images/s of lenet5-bn on `workers` workers (after a warm-up), from fit's own per-batch rate. */
async function workerRate(be: Backend, workers: number): Promise<number> {
  const { model: m, recipe } = createPreset('lenet5-bn', { backend: be });
  let ips = 0;
  await m.fit(data!.train, {
    optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128, maxSteps: 24, workers, createWorker, shuffle: false,
    callbacks: { onBatchEnd: (b) => { if (b.batch === 7) ips = -performance.now(); if (b.batch === 23) ips = (16 * 128) / ((performance.now() + ips) / 1000); } },
  });
  m.dispose();
  return ips;
}

async function bench(workers: number): Promise<void> {
  if (!data) throw new Error('not initialised');
  const rate = async (be: Backend) => {
    const { model: m, recipe } = createPreset('lenet5-bn', { backend: be });
    const opt = optimizerFromConfig(recipe.optimizer);
    const steps = 12, n = 128;
    for (let i = 0; i < 2; i++) m.trainStep(data!.train, null, i * n, n, opt, i); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) m.trainStep(data!.train, null, (i % 60) * n, n, opt, i);
    const ips = (steps * n) / ((performance.now() - t0) / 1000);
    m.dispose();
    opt.dispose();
    return ips;
  };
  const scalar = await initBackend({ backend: 'scalar', wasm });
  // A build this browser cannot validate (no SIMD, no relaxed SIMD) is left out.
  const load = async (name: 'relaxed' | 'simd') => { try { return await initBackend({ backend: name, wasm }); } catch { return null; } };
  const relaxed = await load('relaxed'), simd = await load('simd');
  if (backend) setBackend(backend);
  // Interleave: relaxed, SIMD, scalar, twice, and keep the best of each, the machine being shared.
  let br = 0, bs = 0, bc = 0;
  for (let r = 0; r < 2; r++) {
    if (relaxed) br = Math.max(br, await rate(relaxed));
    if (simd) bs = Math.max(bs, await rate(simd));
    bc = Math.max(bc, await rate(scalar));
  }
  let parallel: number | null = null;
  if (workers > 1) {
    // Several workers against one on the fastest build ('auto''s order), interleaved, the best of two each.
    const be = relaxed ?? simd ?? scalar;
    let one = 0, many = 0;
    for (let r = 0; r < 2; r++) {
      one = Math.max(one, await workerRate(be, 1));
      many = Math.max(many, await workerRate(be, workers));
    }
    parallel = many / one;
  }
  post({ type: 'bench', relaxed: relaxed ? br : null, simd: simd ? bs : null, scalar: bc, workers, parallel });
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type.startsWith('own-')) {
    // Your own images: the kernels the page's init loaded (or the best this browser has).
    backend ??= await initBackend({ backend: 'auto', wasm });
    await handleOwn(msg as Parameters<typeof handleOwn>[0], backend, createWorker, post);
    return;
  }
  try {
    switch (msg.type) {
      case 'init': await init(msg); break;
      case 'train': await train(msg); break;
      case 'pause': paused = true; break;
      case 'resume': paused = false; break;
      case 'predict': {
        if (!model) return;
        // Every layer on its own, so that each conv/dense layer's output is there to draw.
        const probs = model.predict(msg.pixels, { layerOutputs: true });
        post({ type: 'prediction', probs, maps: maps(model, (k) => k === 'conv2d' || k === 'dense') });
        break;
      }
      case 'save': {
        if (!model) return;
        const bytes = serializeModel(model, { metadata: { preset: modelName, dataset: 'mnist-sample', savedBy: 'web demo' } });
        post({ type: 'saved', bytes }, [bytes.buffer]);
        break;
      }
      case 'load': {
        if (!backend) return;
        // A cnn-wasm model file, or an ONNX graph (e.g. from torch.onnx.export), trained on MNIST-normalised input.
        const isCnnw = new TextDecoder().decode(msg.bytes.subarray(0, 7)) === 'CNNWASM';
        const loaded = isCnnw
          ? deserializeModel(msg.bytes, { backend, source: 'the chosen file' })
          : { model: importOnnx(msg.bytes, { backend, source: 'the chosen ONNX file', normalization: MNIST_NORMALIZATION }), optimizer: null, metadata: { preset: modelName } as Record<string, unknown> };
        loaded.optimizer?.dispose();
        model?.dispose();
        model = loaded.model;
        modelName = typeof loaded.metadata.preset === 'string' ? loaded.metadata.preset : modelName;
        post({ type: 'ready', backend: backend.name, model: modelName, presets: PRESET_NAMES, summary: model.summary(), train: data?.train.count ?? 0, test: data?.test.count ?? 0, lr: 0.1, batchSize: 128, epochs: 3 });
        post({ type: 'filters', layers: filters(model) });
        if (data) insight(model, 0); // the held-out view of the loaded model, not of the one it replaced
        break;
      }
      case 'bench': await bench(msg.workers); break;
      case 'hash': {
        data ??= await loadSample();
        const be = await initBackend({ backend: msg.backend, wasm });
        const hex = await weightsHash(be, msg.model, data.train, msg.seed, msg.steps, { workers: msg.workers, createWorker });
        if (backend) setBackend(backend);
        post({ type: 'hash', hex });
        break;
      }
    }
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  }
};
