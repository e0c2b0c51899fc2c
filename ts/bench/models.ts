/**
 * End-to-end benchmark: training (forward + backward + update) and inference
 * images/s at batch 128 for cnn-wasm SIMD and scalar and the peers, measured
 * in one process with interleaved rounds, warm-up and medians.
 */
import { cpus } from 'node:os';
import { initBackend, relaxedSupported, type Backend, type BackendName } from '../backend/load.js';
import { createPreset } from '../models/presets.js';
import { readSplit, sampleDir } from '../data/sample.js';
import { MNIST_NORMALIZATION } from '../model.js';
import { optimizerFromConfig } from '../optim/optimizer.js';
import type { Sequential } from '../model.js';
import { convnetjsRunner, tfRunner, type PeerRunner } from './peers.js';
import { interleavedRoundsAsync, median, medianRatio, pause, ratioRange, ROUND_SLICE_MS } from './timing.js';
import { findTorch, torchRunner } from './torch.js';
import { onnxRunner } from './onnxruntime.js';

export const SYSTEMS = ['cnn-wasm-relaxed', 'cnn-wasm-simd', 'cnn-wasm-scalar', 'pytorch', 'onnxruntime-node', 'onnxruntime-web', 'tfjs-cpu', 'tfjs-wasm', 'convnetjs'] as const;
export type System = (typeof SYSTEMS)[number];

/** One result row; `imagesPerSecond` is null when the system cannot run this. */
export interface ModelResult {
  system: System;
  model: string;
  mode: 'train' | 'infer';
  imagesPerSecond: number | null;
  /**
   * How many times faster cnn-wasm SIMD ran than this system: the median of
   * per-round ratios (each round alternates the systems in slices, so the
   * shared machine's slow and fast phases cancel out better than in a ratio of medians).
   */
  simdSpeedup?: number;
  /** The lowest and highest of those per-round ratios. */
  simdSpeedupRange?: [number, number];
  /** The relaxed build's speed over this system's (median of per-round ratios), when the relaxed build was timed. */
  relaxedSpeedup?: number;
  relaxedSpeedupRange?: [number, number];
  unsupported?: string;
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, node: process.versions.node, v8: process.versions.v8, platform: `${process.platform}-${process.arch}` };
}

/**
 * The batch every system runs on: the first `n` real digits of the bundled sample
 * (data-dependent branches in any system then behave as they do on real data;
 * random pixels made the scalar build's relu 6x slower than on digits).
 */
export function benchBatch(n: number): { images: Uint8Array; labels: Uint8Array; pixels: Float32Array } {
  const s = readSplit(sampleDir(), 'train');
  const images = s.images.slice(0, n * 784);
  const pixels = Float32Array.from(images, (v) => (v / 255 - MNIST_NORMALIZATION.mean) / MNIST_NORMALIZATION.std);
  return { images, labels: Uint8Array.from(s.labels.subarray(0, n)), pixels };
}

function cnnRunner(be: Backend, model: string, batch: number): PeerRunner & { model: Sequential } {
  const { model: m, recipe } = createPreset(model, { backend: be, seed: 1 });
  const opt = optimizerFromConfig(recipe.optimizer);
  const b = benchBatch(batch);
  const data = { images: b.images, labels: b.labels, count: batch };
  let step = 0;
  return {
    model: m,
    train: async () => { m.trainStep(data, null, 0, batch, opt, step++); },
    infer: async () => { m.predict(data.images); },
    dispose: () => { m.dispose(); opt.dispose(); },
  };
}

/** onnxruntime on our ONNX export of the same preset (same seed, so the same weights). */
async function onnxPeer(system: 'onnxruntime-web' | 'onnxruntime-node', model: string, batch: number): Promise<PeerRunner> {
  const { model: m } = createPreset(model, { backend: await initBackend({ backend: 'simd' }), seed: 1 });
  try {
    return await onnxRunner(system === 'onnxruntime-web' ? 'web' : 'node', m, benchBatch(batch).images);
  } finally {
    m.dispose();
  }
}

/** PyTorch with one thread, or the reason it cannot run here. */
async function pytorchRunner(spec: { layers: Record<string, unknown>[]; inputShape: number[]; classes: number }, batch: number): Promise<PeerRunner> {
  const t = findTorch();
  if ('missing' in t) throw new Error(t.missing);
  return torchRunner(t.python, spec, benchBatch(batch), 1);
}

export interface ModelBenchOptions {
  model: string;
  batch?: number;
  rounds?: number;
  minMs?: number;
  /** Systems to include (default: all). */
  systems?: readonly System[];
  onResult?(r: ModelResult): void;
  onNote?(msg: string): void;
}

/** Runs the benchmark; every available system is timed in the same rounds. */
export async function benchModels(o: ModelBenchOptions): Promise<ModelResult[]> {
  const batch = o.batch ?? 128;
  const systems = o.systems ?? SYSTEMS;
  const { model: probe } = createPreset(o.model, { backend: await initBackend({ backend: 'scalar' }) });
  const configs = probe.layers.map((l) => l.config());
  const spec = { layers: configs, inputShape: probe.inputShape, classes: probe.classes };
  probe.dispose();
  const runners: { system: System; r: PeerRunner }[] = [];
  const results: ModelResult[] = [];
  const unsupported = (system: System, mode: 'train' | 'infer', why: string) => {
    const r: ModelResult = { system, model: o.model, mode, imagesPerSecond: null, unsupported: why };
    results.push(r);
    o.onResult?.(r);
  };
  for (const system of systems) {
    try {
      if (system === 'cnn-wasm-relaxed' && !relaxedSupported()) {
        throw new Error(`this engine has no relaxed SIMD (Node ${process.versions.node}${Number(process.versions.node.split('.')[0]) < 22 ? '; node --experimental-wasm-relaxed-simd, or Node 22+, runs it' : ''})`);
      }
      const r = system === 'cnn-wasm-relaxed' ? cnnRunner(await initBackend({ backend: 'relaxed' }), o.model, batch)
        : system === 'cnn-wasm-simd' ? cnnRunner(await initBackend({ backend: 'simd' }), o.model, batch)
        : system === 'cnn-wasm-scalar' ? cnnRunner(await initBackend({ backend: 'scalar' }), o.model, batch)
          : system === 'pytorch' ? await pytorchRunner(spec, batch)
          : system === 'onnxruntime-web' || system === 'onnxruntime-node' ? await onnxPeer(system, o.model, batch)
          : system === 'tfjs-cpu' ? await tfRunner('cpu', configs, benchBatch(batch))
            : system === 'tfjs-wasm' ? await tfRunner('wasm', configs, benchBatch(batch))
              : await convnetjsRunner(configs, benchBatch(batch));
      runners.push({ system, r });
    } catch (e) {
      const why = (e as Error).message.split('\n')[0];
      const missing = /Cannot find (module|package)/.test(why) && !['pytorch', 'onnxruntime-web', 'onnxruntime-node'].includes(system);
      const msg = missing ? `not installed (npm install --save-dev @tensorflow/tfjs @tensorflow/tfjs-backend-wasm convnetjs): ${why}` : why;
      unsupported(system, 'train', msg);
      unsupported(system, 'infer', msg);
    }
  }
  for (const mode of ['train', 'infer'] as const) {
    // A system whose step throws (e.g. a missing gradient kernel) is recorded and dropped.
    const ok: { system: System; fn: () => Promise<void>; settleMs?: number }[] = [];
    for (const { system, r } of runners) {
      const fn = mode === 'train' ? r.train : r.infer;
      try {
        await fn();
        ok.push({ system, fn, settleMs: r.settleMs });
      } catch (e) {
        unsupported(system, mode, (e as Error).message.split('\n')[0]);
      }
    }
    o.onNote?.(`${mode}: timing ${ok.map((x) => x.system).join(', ')} (${o.rounds ?? 5} interleaved rounds)`);
    const samples = await interleavedRoundsAsync(ok.map((x) => x.fn), { rounds: o.rounds ?? 5, minMs: o.minMs ?? 400, sliceMs: ROUND_SLICE_MS, settle: (i) => pause(ok[i].settleMs) });
    const simd = ok.findIndex((x) => x.system === 'cnn-wasm-simd'), relaxed = ok.findIndex((x) => x.system === 'cnn-wasm-relaxed');
    ok.forEach((x, i) => {
      const r: ModelResult = { system: x.system, model: o.model, mode, imagesPerSecond: batch / median(samples[i]) };
      if (simd >= 0 && i !== simd) {
        r.simdSpeedup = medianRatio(samples[simd], samples[i]);
        r.simdSpeedupRange = ratioRange(samples[simd], samples[i]);
      }
      if (relaxed >= 0 && i !== relaxed) {
        r.relaxedSpeedup = medianRatio(samples[relaxed], samples[i]);
        r.relaxedSpeedupRange = ratioRange(samples[relaxed], samples[i]);
      }
      results.push(r);
      o.onResult?.(r);
    });
  }
  for (const { r } of runners) r.dispose();
  return results;
}

/** Per-layer forward/backward milliseconds per training step of cnn-wasm on `backend`. */
export async function profileModel(model: string, backend: BackendName, o: { batch?: number; steps?: number } = {}): Promise<{ layer: string; forwardMs: number; backwardMs: number }[]> {
  const batch = o.batch ?? 128, steps = o.steps ?? 30;
  const r = cnnRunner(await initBackend({ backend }), model, batch);
  // Warm up long enough for V8 to tier every kernel up from its baseline compiler.
  for (let i = 0; i < 30; i++) await r.train();
  const acc = new Map<string, { forwardMs: number; backwardMs: number }>();
  r.model.profiler = (layer, phase, ms) => {
    const e = acc.get(layer) ?? { forwardMs: 0, backwardMs: 0 };
    if (phase === 'forward') e.forwardMs += ms;
    else e.backwardMs += ms; // 'update' is reported as the optimizer's backward column
    acc.set(layer, e);
  };
  for (let i = 0; i < steps; i++) await r.train();
  r.dispose();
  return [...acc.entries()].map(([layer, e]) => ({ layer, forwardMs: e.forwardMs / steps, backwardMs: e.backwardMs / steps }));
}
