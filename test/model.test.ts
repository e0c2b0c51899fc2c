import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { conv2d, dense, dropout, flatten, maxPooling2d, batchNormalization, relu } from '../ts/layers/index.js';
import { Layer, type Shape } from '../ts/layers/layer.js';
import type { F32Buffer } from '../ts/backend/memory.js';
import { sequential, type Sequential } from '../ts/model.js';
import { adam, optimizerFromConfig, sgd } from '../ts/optim/optimizer.js';
import { exponentialDecay, learningRateAt, stepDecay } from '../ts/optim/schedule.js';
import { createPreset, PRESET_NAMES } from '../ts/models/presets.js';
import { gradientCheck } from '../ts/gradcheck.js';
import { constant, normal } from '../ts/init.js';
import { ModelFileError } from '../ts/io/modelfile.js';
import { deserializeModel, serializeModel } from '../ts/model-file.js';
import { writeFileAtomic } from '../ts/io/files.js';
import { loadModel, saveModel } from '../ts/model-file-node.js';
import { crc32 } from '../ts/io/crc32.js';
import { mnistSample } from './data.js';

const be = await initBackend({ backend: 'simd' });

function weightsOf(m: Sequential): Float32Array[] {
  return m.params().map((p) => p.value.toArray());
}

describe('sequential', () => {
  it('infers shapes and counts parameters like Keras', () => {
    const { model } = createPreset('lenet5-bn');
    const s = model.summary();
    // Independent arithmetic: conv F*C*K*K + F, BN 4*C (2 trainable), dense in*out + out.
    const expected = { conv2d_1: 6 * 25 + 6, conv2d_2: 16 * 6 * 25 + 16, conv2d_3: 120 * 16 * 25 + 120, dense_1: 120 * 84 + 84, dense_2: 84 * 10 + 10, batchNormalization_3: 4 * 120 };
    for (const [name, count] of Object.entries(expected)) expect(s).toMatch(new RegExp(`${name} \\(\\w+\\)\\s+\\([^)]*\\)\\s+${count}\\n`));
    expect(s).toMatch(/conv2d_1 \(conv2d\)\s+\(None, 6, 28, 28\)/);
    expect(s).toMatch(/maxPooling2d_2 \(maxPooling2d\)\s+\(None, 16, 5, 5\)/);
    const total = Object.values(expected).reduce((a, b) => a + b, 0) + 4 * 6 + 4 * 16;
    expect(s).toContain(`Total params: ${total.toLocaleString('en-US')}`);
    expect(s).toContain(`Non-trainable params: ${2 * (6 + 16 + 120)}`);
    model.dispose();
  });

  it('a bad shape names the layer and both shapes', () => {
    expect(() => sequential([conv2d({ filters: 4, kernelSize: 3 }), dense({ units: 10 })], { inputShape: [1, 28, 28] }))
      .toThrow(/layer 'dense_1' \(dense\): expected input shape \(features\).*got \(4, 26, 26\)/);
    expect(() => sequential([conv2d({ filters: 4, kernelSize: 9 }), flatten(), dense({ units: 10 })], { inputShape: [1, 5, 5] }))
      .toThrow(/layer 'conv2d_1' \(conv2d\): input shape \(1, 5, 5\): .*9x9 kernel .* does not fit a 5x5 input/);
    expect(() => sequential([flatten(), dense({ units: 3 })], { inputShape: [1, 28, 28] })).toThrow(/outputs \(3\), expected \(10\) logits/);
    expect(() => conv2d({ filters: 0, kernelSize: 3 })).toThrow(/filters must be a positive integer/);
    expect(() => dense({ units: 10, activation: 'tanh' as never })).toThrow(/unknown activation "tanh"/);
  });

  it('initialisers follow their definitions', () => {
    const m = sequential([conv2d({ filters: 64, kernelSize: 5, activation: 'relu' }), flatten(),
      dense({ units: 10, kernelInitializer: normal(0.1), biasInitializer: constant(1.15) })], { inputShape: [3, 8, 8], seed: 5 });
    const [k, b, dk, db] = m.params().map((p) => p.value.toArray());
    const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(std(k) / Math.sqrt(2 / (3 * 25))).toBeGreaterThan(0.95); // heNormal, 4800 draws
    expect(std(k) / Math.sqrt(2 / (3 * 25))).toBeLessThan(1.05);
    expect(Array.from(b).every((v) => v === 0)).toBe(true);
    expect(std(dk) / 0.1).toBeGreaterThan(0.95);
    expect(std(dk) / 0.1).toBeLessThan(1.05);
    expect(Array.from(db).every((v) => v === Math.fround(1.15))).toBe(true);
    m.dispose();
  });

  it('learning-rate schedules', () => {
    expect([0, 29, 30, 59, 60].map((s) => learningRateAt(stepDecay(0.1, 0.9, 30), s))).toEqual([0.1, 0.1, 0.1 * 0.9, 0.1 * 0.9, 0.1 * 0.9 * 0.9]);
    expect(learningRateAt(exponentialDecay(1, 0.5, 10), 20)).toBeCloseTo(0.25, 12);
    expect(() => sgd({ learningRate: -1 })).toThrow(/invalid learning rate -1/);
    expect(() => sgd({ momentum: 1.5 })).toThrow(/momentum must be in \[0, 1\)/);
  });
});

describe('training and inference', () => {
  it('lenet5-bn learns real digits: >= 90% on 500 held-out digits after 2 epochs on 2,000', async () => {
    const { model, recipe } = createPreset('lenet5-bn', { seed: 1 });
    const train = mnistSample('train', 2000), test = mnistSample('t10k', 500);
    const before = model.evaluate(test);
    const h = await model.fit(train, { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 2, batchSize: 64, validationData: test });
    expect(h.epochs).toHaveLength(2);
    expect(h.epochs[1].loss).toBeLessThan(h.epochs[0].loss);
    expect(h.epochs[1].imagesPerSecond).toBeGreaterThan(0);
    const after = model.evaluate(test);
    expect(before.accuracy).toBeLessThan(0.3);
    expect(after.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(after.accuracy).toBe(h.epochs[1].valAccuracy);
    // predict: probabilities that sum to 1 and agree with predictClass.
    const probs = model.predict(test.images.subarray(0, 20 * 784));
    const cls = model.predictClass(test.images.subarray(0, 20 * 784));
    for (let r = 0; r < 20; r++) {
      const row = Array.from(probs.subarray(r * 10, r * 10 + 10));
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
      expect(cls[r]).toBe(row.indexOf(Math.max(...row)));
    }
    model.dispose();
  });

  it('adam trains the simple preset', async () => {
    const { model } = createPreset('simple', { seed: 2 });
    await model.fit(mnistSample('train', 1000), { optimizer: adam({ learningRate: 2e-3 }), epochs: 2, batchSize: 50 });
    expect(model.evaluate(mnistSample('t10k', 300)).accuracy).toBeGreaterThan(0.8);
    model.dispose();
  });

  it('is deterministic: same seed and backend give bit-identical weights and byte-identical files', async () => {
    const run = async () => {
      const { model, recipe } = createPreset('lenet5-bn', { seed: 9 });
      await model.fit(mnistSample('train', 640), { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 1, batchSize: 64, seed: 4 });
      const bytes = serializeModel(model);
      const w = weightsOf(model);
      model.dispose();
      return { bytes, w };
    };
    const a = await run(), b = await run();
    a.w.forEach((t, i) => expect(Buffer.from(t.buffer).equals(Buffer.from(b.w[i].buffer))).toBe(true));
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    const { model, recipe } = createPreset('lenet5-bn', { seed: 9 });
    await model.fit(mnistSample('train', 640), { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 1, batchSize: 64, seed: 5 });
    expect(Buffer.from(serializeModel(model)).equals(Buffer.from(a.bytes))).toBe(false); // the seed matters
    model.dispose();
  });

  it('rejects bad data with errors that name the problem', async () => {
    const { model } = createPreset('simple');
    const opt = sgd();
    await expect(model.fit({ images: new Uint8Array(783), labels: [1], count: 1 }, { optimizer: opt })).rejects.toThrow(/783 pixel values for 1 examples of shape \(1, 28, 28\)/);
    await expect(model.fit({ images: new Uint8Array(784), labels: [10], count: 1 }, { optimizer: opt })).rejects.toThrow(/label 10 at index 0 is outside 0..9/);
    await expect(model.fit({ images: new Float32Array(784).fill(NaN), labels: [1], count: 1 }, { optimizer: opt })).rejects.toThrow(/image value NaN at index 0 is not finite/);
    await expect(model.fit(mnistSample('train', 10), { optimizer: opt, epochs: 0 })).rejects.toThrow(/epochs must be a positive integer/);
    expect(() => model.predict(new Uint8Array(100))).toThrow(/100 values is not a whole number of examples/);
    model.dispose();
    expect(() => model.predict(new Uint8Array(784))).toThrow(/used after dispose/);
  });

  it('10,000 predict calls keep wasm memory flat, and dispose frees it', () => {
    const before = be.heap.allocatedBytes;
    const { model } = createPreset('lenet5-bn');
    const img = mnistSample('t10k', 1).images;
    model.predict(img);
    const heap = be.heap.allocatedBytes, mem = be.heap.memoryBytes;
    for (let i = 0; i < 10_000; i++) model.predict(img);
    expect(be.heap.allocatedBytes).toBe(heap);
    expect(be.heap.memoryBytes).toBe(mem);
    model.dispose();
    expect(be.heap.allocatedBytes).toBe(before);
  });

  it('warns when the network is stuck at chance level', async () => {
    const m = sequential([conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: constant(0), biasInitializer: constant(-100) }), flatten(), dense({ units: 10 })],
      { inputShape: [1, 28, 28] });
    const warnings: string[] = [];
    await m.fit(mnistSample('train', 200), { optimizer: sgd({ learningRate: 0.0 }), epochs: 1, callbacks: { onWarning: (w) => warnings.push(w) } });
    expect(warnings.join()).toMatch(/about chance level.*dead ReLU outputs: conv2d_1 100% zero/);
    m.dispose();
  });

  it('does not cry wolf: a binary classifier learning well, or an epoch of two steps, is not at chance level', async () => {
    // 4 against 9 (the sample's first 800 of them), 50 steps of 16: it learns, but not to 100% in its first epoch.
    const all = mnistSample('train');
    const pick = Array.from({ length: all.count }, (_, i) => i).filter((i) => all.labels[i] === 4 || all.labels[i] === 9).slice(0, 800);
    const images = new Uint8Array(pick.length * 784), labels = new Uint8Array(pick.length);
    pick.forEach((i, j) => { images.set((all.images as Uint8Array).subarray(i * 784, (i + 1) * 784), j * 784); labels[j] = all.labels[i] === 9 ? 1 : 0; });
    const binary = sequential([conv2d({ filters: 4, kernelSize: 5, activation: 'relu' }), maxPooling2d(), flatten(), dense({ units: 2 })], { inputShape: [1, 28, 28], classes: 2, seed: 1 });
    const warnings: string[] = [];
    const h = await binary.fit({ images, labels, count: pick.length }, { optimizer: sgd({ learningRate: 0.01, momentum: 0.9 }), epochs: 1, batchSize: 16, callbacks: { onWarning: (w) => warnings.push(w) } });
    expect(h.epochs[0].accuracy).toBeGreaterThan(0.7);
    expect(h.epochs[0].accuracy).toBeLessThan(1);
    expect(warnings).toEqual([]);
    binary.dispose();
    // Two steps of lenet5-bn: the epoch's accuracy is that of a network barely trained, which says nothing yet.
    const { model } = createPreset('lenet5-bn', { backend: await initBackend(), seed: 1 });
    const w2: string[] = [];
    const h2 = await model.fit(mnistSample('train', 256), { optimizer: sgd({ learningRate: 0.05 }), epochs: 1, batchSize: 128, callbacks: { onWarning: (w) => w2.push(w) } });
    expect(h2.epochs[0].accuracy).toBeLessThan(0.2);
    expect(w2).toEqual([]);
    model.dispose();
  });
});

/** Multiplies by 2 in forward but forgets the factor in backward: a wrong gradient. */
class BrokenScale extends Layer {
  readonly kind = 'brokenScale';
  protected computeOutputShape(s: Shape): Shape { return [...s]; }
  forward(x: F32Buffer, n: number): F32Buffer {
    const y = this.buffer('y', n * this.outputSize);
    const xv = x.view, yv = y.view;
    for (let i = 0; i < n * this.outputSize; i++) yv[i] = 2 * xv[i];
    return y;
  }
  backward(dy: F32Buffer): F32Buffer { return dy; }
  config() { return { kind: this.kind, name: this.name }; }
}

describe('gradientCheck', () => {
  const batch = mnistSample('train', 16, 100);
  it.each(PRESET_NAMES)('%s: backprop matches central differences for every tensor', (name) => {
    const { model } = createPreset(name, { seed: 3 });
    const before = weightsOf(model);
    const r = gradientCheck(model, batch);
    for (const t of r.tensors) expect(t.ok, `${t.name}: relative error ${t.relativeError}`).toBe(true);
    expect(r.tensors.length).toBe(model.params().filter((p) => p.grad).length);
    weightsOf(model).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(before[i]))); // model unchanged
    model.dispose();
  });

  it('catches a wrong backward pass and flags dead relu layers', () => {
    const m = sequential([conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), new BrokenScale(), flatten(), dense({ units: 10 })], { inputShape: [1, 28, 28], seed: 1 });
    const r = gradientCheck(m, batch);
    expect(r.ok).toBe(false);
    expect(r.tensors.find((t) => t.name === 'conv2d_1/kernel')!.ok).toBe(false);
    expect(r.tensors.find((t) => t.name === 'dense_1/kernel')!.ok).toBe(true);
    m.dispose();
    const dead = sequential([conv2d({ filters: 2, kernelSize: 3, biasInitializer: constant(-100) }), relu(), flatten(), dense({ units: 10 })], { inputShape: [1, 28, 28] });
    expect(gradientCheck(dead, batch).deadReluLayers.map((d) => d.layer)).toEqual(['relu_1']);
    dead.dispose();
  });
});

describe('model file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-model-'));

  it('round-trips bit-exactly, with optimizer state, through an atomic save', async () => {
    const { model, recipe } = createPreset('lenet5-bn', { seed: 2 });
    const opt = optimizerFromConfig(recipe.optimizer);
    await model.fit(mnistSample('train', 256), { optimizer: opt, epochs: 1, batchSize: 64 });
    const path = join(dir, 'm.cnnw');
    saveModel(model, path, { optimizer: opt, metadata: { preset: 'lenet5-bn' } });
    expect(readdirSync(dir)).toEqual(['m.cnnw']); // no temp file left behind
    const loaded = loadModel(path);
    const w0 = weightsOf(model), w1 = weightsOf(loaded.model);
    w0.forEach((t, i) => expect(Buffer.from(t.buffer).equals(Buffer.from(w1[i].buffer))).toBe(true));
    expect(loaded.metadata).toEqual({ preset: 'lenet5-bn' });
    expect(loaded.optimizer!.iterations).toBe(opt.iterations);
    expect(loaded.optimizer!.config()).toEqual(opt.config());
    const s0 = opt.state(), s1 = loaded.optimizer!.state();
    expect(s1.map((s) => `${s.param}#${s.slot}`)).toEqual(s0.map((s) => `${s.param}#${s.slot}`));
    s0.forEach((s, i) => expect(Array.from(s1[i].value.view)).toEqual(Array.from(s.value.view)));
    const test = mnistSample('t10k', 50).images;
    expect(Array.from(loaded.model.predict(test))).toEqual(Array.from(model.predict(test)));
    expect(Buffer.from(serializeModel(loaded.model, { optimizer: loaded.optimizer!, metadata: loaded.metadata })).equals(readFileSync(path))).toBe(true);
    model.dispose();
    loaded.model.dispose();
  });

  it('rejects corrupt, truncated, foreign and mismatched files with clear errors', () => {
    const { model } = createPreset('simple', { seed: 1 });
    const good = serializeModel(model);
    model.dispose();
    const flip = good.slice(); flip[good.length - 100] ^= 1;
    expect(() => deserializeModel(flip, { source: 'x.cnnw' })).toThrow(/x.cnnw: checksum mismatch/);
    expect(() => deserializeModel(good.subarray(0, good.length - 8), { source: 'x.cnnw' })).toThrow(/checksum mismatch|too short/);
    const magic = good.slice(); magic.set(new TextEncoder().encode('PK\x03\x04'), 0);
    expect(() => deserializeModel(magic)).toThrow(/not a cnn-wasm model file \(bad magic/);
    const withCrc = (b: Uint8Array) => { new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true); return b; };
    const ver = good.slice(); new DataView(ver.buffer).setUint32(8, 99, true);
    expect(() => deserializeModel(withCrc(ver))).toThrow(/format version 99 is not supported/);
    // Same size header, a different filter count: shapes no longer match the data.
    const hlen = new DataView(good.buffer).getUint32(12, true);
    const json = new TextDecoder().decode(good.subarray(16, 16 + hlen));
    const edited = json.replace('"filters":8', '"filters":9');
    expect(edited).not.toBe(json);
    const bad = good.slice(); bad.set(new TextEncoder().encode(edited), 16);
    expect(() => deserializeModel(withCrc(bad), { source: 'y.cnnw' })).toThrow(/y.cnnw: tensor 0 is conv2d_1\/kernel \[8,1,3,3\], the architecture expects conv2d_1\/kernel \[9,1,3,3\]/);
    expect(() => loadModel(join(dir, 'missing.cnnw'))).toThrow(/missing.cnnw: no such file \(give the path of a model file\)/);
  });

  it('model.save(path) writes the same file as saveModel', async () => {
    const { model } = createPreset('simple', { seed: 4 });
    const path = join(dir, 'method.cnnw');
    await model.save(path, { metadata: { via: 'method' } });
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(serializeModel(model, { metadata: { via: 'method' } })))).toBe(true);
    model.dispose();
  });

  it('a failed save keeps the old file and leaves no temp file', () => {
    const path = join(dir, 'keep.bin');
    writeFileSync(path, 'old');
    expect(() => writeFileAtomic(join(dir, 'no-such-dir', 'f.bin'), new Uint8Array(4))).toThrow(/cannot write .*no-such-dir\/f.bin: ENOENT/);
    writeFileAtomic(path, new TextEncoder().encode('new'));
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

it('inference ignores dropout and uses running batch-norm statistics: predictions repeat exactly', () => {
  const m = sequential([flatten(), batchNormalization(), dropout({ rate: 0.5 }), dense({ units: 10 })], { inputShape: [1, 4, 4] });
  const img = new Uint8Array(16 * 8).map((_, i) => (i * 37) % 256);
  const a = m.predict(img), b = m.predict(img);
  expect(Array.from(a)).toEqual(Array.from(b)); // inference: deterministic, no dropout
  m.dispose();
});

// The inference pool (parallel/infer.ts) hands out examples in chunks of its
// own size and relies on this to give the model's own bits.
it.each(['simd', 'scalar'] as const)('an example\'s predicted probabilities do not depend on the batch around it, for every preset (%s)', async (backend) => {
  const be = await initBackend({ backend });
  const test = mnistSample('t10k', 300);
  for (const name of PRESET_NAMES) {
    const { model, recipe } = createPreset(name, { backend: be, seed: 5 });
    // Trained a few steps, so batch norm's folded statistics are not the initial ones.
    await model.fit(mnistSample('train', 128), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 32, epochs: 1 });
    const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const ref = bits(model.predict(test.images, { batchSize: 300 }));
    for (const bs of [1, 7, 64, 100, 256]) expect(bits(model.predict(test.images, { batchSize: bs })).equals(ref), `${name}, batchSize ${bs}`).toBe(true);
    // Examples in another order and another company: the same rows.
    const rev = new Uint8Array(test.images.length);
    for (let i = 0; i < 300; i++) rev.set(test.images.subarray((299 - i) * 784, (300 - i) * 784), i * 784);
    const p = model.predict(rev, { batchSize: 64 }), q = model.predict(test.images, { batchSize: 300 }), k = model.classes;
    for (let i = 0; i < 300; i++) expect(bits(p.subarray(i * k, (i + 1) * k)).equals(bits(q.subarray((299 - i) * k, (300 - i) * k))), `${name}, example ${299 - i}`).toBe(true);
    model.dispose();
  }
}, 60_000);
