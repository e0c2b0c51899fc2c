/**
 * Colour models: a 3x32x32 model trained on colour pictures with per-channel
 * normalisation; its ONNX export gives the library's probabilities in
 * onnxruntime-web (within 1e-5); the first convolution's forward and
 * gradients on 3-channel input agree with a float64 reference; the
 * per-channel normalisation survives the model file.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { channelMoments } from '../ts/data/folder.js';
import { convGeometry } from '../ts/kernels/conv.js';
import { conv2d, dense, flatten, maxPooling2d, batchNormalization } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';
import { deserializeModel, serializeModel } from '../ts/model-file.js';
import { sgd } from '../ts/optim/optimizer.js';
import { importOnnx } from '../ts/interop/onnx-import.js';
import { decodeModel, encodeModel } from '../ts/interop/onnx-proto.js';
import { Rng } from '../ts/rng.js';
import { convBackwardRef, convForwardRef } from './reference/nn.js';
import { maxErrRatio, randArray, rng } from './helpers.js';

ort.env.wasm.numThreads = 1;
const be = await initBackend({ backend: 'simd' });

/** n colour pictures [3, 32, 32]: class 0 reddish, 1 greenish, 2 bluish, with noise (seeded). */
function pictures(n: number, seed: number) {
  const r = rng(seed), images = new Uint8Array(n * 3 * 1024), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let c = 0; c < 3; c++) for (let k = 0; k < 1024; k++) images[(i * 3 + c) * 1024 + k] = Math.min(255, Math.floor((c === labels[i] ? 150 : 60) + r() * 100));
  }
  return { images, labels, count: n };
}

describe('3x32x32 colour models', () => {
  it('train with per-channel normalisation; the ONNX export runs in onnxruntime-web with the same probabilities; the model file keeps it', async () => {
    const train = pictures(192, 1), test = pictures(48, 2);
    const norm = { scale: 1 / 255, ...channelMoments(train.images, train.count, 3) };
    expect(norm.mean[0]).toBeGreaterThan(0.3);
    const model = sequential([conv2d({ filters: 6, kernelSize: 5, activation: 'relu' }), batchNormalization(), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 3 })],
      { inputShape: [3, 32, 32], classes: 3, backend: be, seed: 1, normalization: norm });
    const h = await model.fit(train, { optimizer: sgd({ learningRate: 0.05, momentum: 0.9 }), epochs: 2, batchSize: 32 });
    expect(h.epochs[1].accuracy).toBeGreaterThan(0.8); // it learns the colours
    const ours = model.predict(test.images);
    const session = await ort.InferenceSession.create(model.toOnnx());
    const out = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(test.images), [48, 3, 32, 32]) });
    await session.release();
    const theirs = out.probabilities.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    expect(worst).toBeLessThanOrEqual(1e-5);
    // Per channel: the u8 pixels normalised plane by plane, as a float input normalised by hand gives.
    const f32 = Float32Array.from(test.images, (v, i) => (v / 255 - norm.mean[Math.floor(i / 1024) % 3]) / norm.std[Math.floor(i / 1024) % 3]);
    const fromF32 = model.predict(f32);
    for (let i = 0; i < ours.length; i++) expect(Math.abs(fromF32[i] - ours[i])).toBeLessThan(1e-5);
    const back = deserializeModel(serializeModel(model), { backend: be });
    expect(back.model.normalization).toEqual({ scale: norm.scale, mean: norm.mean, std: norm.std });
    expect(Array.from(back.model.predict(test.images))).toEqual(Array.from(ours));
    expect(() => model.setNormalization({ scale: 1 / 255, mean: [0.5, 0.5], std: [1, 1, 1] })).toThrow(/one per channel: 3/);
    // Imported back: from our export's metadata the very normalisation; from the graph alone (metadata
    // stripped, as another program's file) per-channel constants that give the same probabilities.
    const onnx = model.toOnnx();
    const imported = importOnnx(onnx, { backend: be });
    expect(imported.normalization).toEqual({ scale: norm.scale, mean: norm.mean, std: norm.std });
    expect(maxErrRatio(imported.predict(test.images), ours, 1e-6, 0)).toBeLessThanOrEqual(1);
    const bare = decodeModel(onnx);
    bare.metadataProps = [];
    const graphOnly = importOnnx(encodeModel(bare), { backend: be });
    const gn = graphOnly.normalization as { scale: number; mean: number[]; std: number[] };
    for (let c = 0; c < 3; c++) {
      // x * scale[c]' - mean[c]' over std[c]' computes the same affine map as the model's
      expect(gn.scale / gn.std[c]).toBeCloseTo(norm.scale / norm.std[c], 6);
      expect(-gn.mean[c] / gn.std[c]).toBeCloseTo(-norm.mean[c] / norm.std[c], 5);
    }
    expect(maxErrRatio(graphOnly.predict(test.images), ours, 1e-5, 0)).toBeLessThanOrEqual(1);
    // a per-channel constant of another length is not the input's normalisation: refused by name
    const wrong = decodeModel(onnx);
    wrong.metadataProps = [];
    const meanInit = wrong.graph!.initializer!.find((t) => t.name === 'norm_mean')!;
    meanInit.dims = [1, 2, 1, 1];
    meanInit.floatData = [0.1, 0.2];
    meanInit.rawData = undefined;
    expect(() => importOnnx(encodeModel(wrong), { backend: be })).toThrow(/centred_\d+|norm_mean|Sub/);
    for (const m of [imported, graphOnly]) m.dispose();
    back.model.dispose();
    model.dispose();
  }, 60_000);

  it('a convolution on 3-channel input (stride 2x1, padding 1) agrees with PyTorch float64 (test/fixtures/conv3-torch.json, scripts/make-conv3-fixture.py)', () => {
    const fx = JSON.parse(readFileSync(new URL('./fixtures/conv3-torch.json', import.meta.url), 'utf8'));
    const { n, c, h, w, filters, kernel } = fx.shape;
    const l = conv2d({ filters, kernelSize: kernel, strides: fx.shape.strides, padding: fx.shape.padding });
    l.build([c, h, w], { backend: be, rng: new Rng(1) });
    l.params()[0].value.set(Float32Array.from(fx.weight));
    l.params()[1].value.set(Float32Array.from(fx.bias));
    const xb = be.heap.from(Float32Array.from(fx.x)), dyb = be.heap.from(Float32Array.from(fx.dy));
    const y = Float32Array.from(l.forward(xb, n, { training: true, stepSeed: 1 }).view.subarray(0, fx.y.length));
    const dx = Float32Array.from(l.backward(dyb, n, true)!.view.subarray(0, fx.dx.length));
    expect(maxErrRatio(y, fx.y, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(dx, fx.dx, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(Float32Array.from(l.params()[0].grad!.view), fx.dweight, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(Float32Array.from(l.params()[1].grad!.view), fx.dbias, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
    xb.free();
    dyb.free();
    l.dispose();
  });

  it('the first convolution on 3-channel input: forward and gradients agree with float64', () => {
    const l = conv2d({ filters: 4, kernelSize: 5 });
    l.build([3, 32, 32], { backend: be, rng: new Rng(3) });
    const r = rng(9), n = 20, g = convGeometry([n, 3, 32, 32], 4, [5, 5], [1, 1], 'valid');
    const x = randArray(n * 3 * 1024, r), dy = randArray(n * 4 * 28 * 28, r);
    const xb = be.heap.from(x), dyb = be.heap.from(dy);
    const y = Float32Array.from(l.forward(xb, n, { training: true, stepSeed: 1 }).view.subarray(0, n * 4 * 784));
    const dx = Float32Array.from(l.backward(dyb, n, true)!.view.subarray(0, n * 3 * 1024));
    const w = Float32Array.from(l.params()[0].value.view), b = Float32Array.from(l.params()[1].value.view);
    expect(maxErrRatio(y, convForwardRef(g, x, w, b), 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    const ref = convBackwardRef(g, x, w, dy);
    expect(maxErrRatio(Float32Array.from(l.params()[0].grad!.view), ref.dw, 1e-3, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(Float32Array.from(l.params()[1].grad!.view), ref.db, 1e-3, 1e-4)).toBeLessThanOrEqual(1);
    expect(maxErrRatio(dx, ref.dx, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    xb.free();
    dyb.free();
    l.dispose();
  });
});
