/** Bad input gets a clear error, and nothing a user made is lost or replaced by something worse. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { dense, flatten } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';
import { sgd } from '../ts/optim/optimizer.js';
import { stepDecay } from '../ts/optim/schedule.js';
import { createPreset } from '../ts/models/presets.js';
import { ModelFileError } from '../ts/io/modelfile.js';
import { deserializeModel, serializeModel } from '../ts/model-file.js';
import { checkWritable, writeFileAtomic } from '../ts/io/files.js';
import { saveModel } from '../ts/model-file-node.js';
import { crc32 } from '../ts/io/crc32.js';
import { removeStaleTemps } from '../ts/io/tempfiles.js';
import { mnistSample } from './data.js';

const be = await initBackend({ backend: 'simd' });
const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-robust-'));
const tiny = () => sequential([flatten(), dense({ units: 10 })], { inputShape: [1, 28, 28], seed: 3 });

/** Rewrites a model file's JSON header through `edit` (tensor data kept), fixing the checksum. */
function editHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void, extraFloats = 0): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  edit(header);
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 4) * 4).fill(0x20);
  padded.set(json);
  json = padded;
  const data = bytes.subarray(16 + hlen, bytes.length - 4);
  const out = new Uint8Array(16 + json.length + data.length + extraFloats * 4 + 4);
  const odv = new DataView(out.buffer);
  out.set(bytes.subarray(0, 12));
  odv.setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(data, 16 + json.length);
  odv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe('fit, evaluate and predict check their input the same way', () => {
  const m = tiny();
  const data = mnistSample('train', 8);

  it('NaN and infinite pixels are refused by all three', async () => {
    const f = new Float32Array(784 * 2);
    f[900] = NaN;
    expect(() => m.predict(f)).toThrow(/predict: image value NaN at index 900 is not finite/);
    expect(() => m.evaluate({ images: f, labels: [1, 2], count: 2 })).toThrow(/evaluate data: image value NaN at index 900/);
    f[900] = Infinity;
    await expect(m.fit({ images: f, labels: [1, 2], count: 2 }, { optimizer: sgd() })).rejects.toThrow(/fit data: image value Infinity at index 900/);
  });

  it('a Uint8ClampedArray (canvas ImageData.data: RGBA) is never read as gray pixels: refused, pointing at the ImageData', async () => {
    const clamped = new Uint8ClampedArray(data.images.subarray(0, 784 * 4));
    const msg = /a Uint8ClampedArray is what canvas ImageData holds \(RGBA, 4 values a pixel\), not one value a pixel: pass the ImageData itself/;
    expect(() => m.predict(clamped as never)).toThrow(msg);
    expect(() => m.evaluate({ images: clamped as never, labels: data.labels, count: 4 })).toThrow(msg);
    await expect(tiny().fit({ images: clamped as never, labels: data.labels, count: 4 }, { optimizer: sgd({ learningRate: 0.1 }), batchSize: 2, seed: 1 })).rejects.toThrow(msg);
  });

  it('plain arrays and other types are refused naming the expected types', async () => {
    const plain = Array.from({ length: 784 }, () => 0);
    expect(() => m.predict(plain as never)).toThrow(/predict: images must be a Uint8Array \(pixels 0..255\) or a Float32Array .*got a plain array; wrap it/);
    expect(() => m.evaluate({ images: new Float64Array(784) as never, labels: [0], count: 1 })).toThrow(/evaluate data: images must be .* got Float64Array/);
    await expect(m.fit({ images: plain as never, labels: [0], count: 1 }, { optimizer: sgd() })).rejects.toThrow(/fit data: images must be/);
  });

  it('missing or wrong fit options are named', async () => {
    await expect(m.fit(data, {} as never)).rejects.toThrow(/fit: options.optimizer must be an optimizer such as sgd\(\{ learningRate: 0.01 \}\) or adam\(\), got nothing/);
    await expect(m.fit(data, undefined as never)).rejects.toThrow(/fit: options are required/);
    await expect(m.fit(data, { optimizer: sgd(), epochs: 0 })).rejects.toThrow(/fit: epochs must be a positive integer, got 0/);
    await expect(m.fit(data, { optimizer: sgd(), batchSize: 2.5 })).rejects.toThrow(/fit: batchSize must be a positive integer, got 2.5/);
    await expect(m.fit(data, { optimizer: sgd(), callbacks: { onEpochEnd: 3 } as never })).rejects.toThrow(/fit: callbacks.onEpochEnd must be a function/);
    await expect(m.fit(null as never, { optimizer: sgd() })).rejects.toThrow(/fit data: expected \{ images, labels, count \}/);
    expect(() => m.predict(data.images, { batchSize: 0 })).toThrow(/predict: batchSize must be a positive integer/);
  });

  it('a second fit on a model that is already fitting is refused', async () => {
    const model = tiny();
    const first = model.fit(data, { optimizer: sgd(), epochs: 3, batchSize: 1 });
    await expect(model.fit(data, { optimizer: sgd() })).rejects.toThrow(/fit: this model is already training/);
    await first;
    await expect(model.fit(data, { optimizer: sgd(), maxSteps: 1 })).resolves.toMatchObject({ steps: 1 });
  });
});

describe('divergence is caught wherever it shows', () => {
  it('weights made non-finite by the very last step stop fit with the step named', async () => {
    const model = tiny();
    // The loss of each step is computed before its update: only the weights show the last update blew up.
    const lr = stepDecay(1e-3, 1e45, 1); // step 0: 1e-3, step 1: 1e42 (infinite in f32)
    const data = mnistSample('train', 2);
    await expect(model.fit(data, { optimizer: sgd({ learningRate: lr }), batchSize: 1, epochs: 1, shuffle: false }))
      .rejects.toThrow(/training diverged: dense_1\/(kernel|bias) is not finite after step 2 \(epoch 1\)/);
  });

  it('a model with non-finite weights is never saved, so a good file is not replaced', async () => {
    const path = join(dir, 'good.cnnw');
    const good = tiny();
    saveModel(good, path);
    const before = readFileSync(path);
    const bad = tiny();
    bad.params()[0].value.view[5] = NaN;
    expect(() => saveModel(bad, path)).toThrow(/cannot save the model: tensor dense_1\/kernel holds NaN at index 5/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((n) => n.includes('good.cnnw.'))).toEqual([]);
  });
});

describe('model files', () => {
  const bytes = serializeModel(tiny());

  it('non-finite weights are refused with the tensor name', () => {
    const b = new Uint8Array(bytes);
    const dv = new DataView(b.buffer);
    const hlen = dv.getUint32(12, true);
    dv.setFloat32(16 + hlen + 4 * 7, Infinity, true);
    dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
    expect(() => deserializeModel(b, { source: 'inf.cnnw' })).toThrow(/inf.cnnw: tensor dense_1\/kernel holds Infinity at index 7/);
  });

  it('an unknown optimizer kind is refused naming the file', () => {
    const withOpt = serializeModel(tiny(), { optimizer: sgd({ momentum: 0.9 }) });
    const b = editHeader(withOpt, (h) => { h.optimizer.config.kind = 'rmsprop'; });
    expect(() => deserializeModel(b, { source: 'opt.cnnw' })).toThrow(/opt.cnnw: optimizer state cannot be restored: unknown optimizer kind "rmsprop"/);
  });

  it('an architecture far larger than the tensor data is refused before it is allocated', () => {
    const b = editHeader(bytes, (h) => {
      h.model.layers[1].units = 3_000_000;
    });
    const heapBefore = be.heap.memoryBytes;
    expect(() => deserializeModel(b, { source: 'huge.cnnw' })).toThrow(/huge.cnnw: the architecture cannot be built: layer 'dense_1' \(dense\) declares kernel \(784, 3000000\) = 2,352,000,000 values, far more than the file holds \(7,850 values of tensor data in all\)/);
    expect(be.heap.memoryBytes).toBe(heapBefore);
    const wide = editHeader(bytes, (h) => { h.model.inputShape = [1, 30000, 30000]; });
    expect(() => deserializeModel(wide, { source: 'wide.cnnw' })).toThrow(/wide.cnnw: input shape \[1,30000,30000\] has more than 16,777,216 values per example/);
  });
});

describe('files: --out checks and temporary files', () => {
  it('checkWritable names a missing directory, a directory given as the file, and an unwritable one', () => {
    expect(() => checkWritable(join(dir, 'nope', 'm.cnnw'))).toThrow(/nope\/m.cnnw: directory .*nope does not exist/);
    expect(() => checkWritable(dir)).toThrow(/is a directory; give a file name such as/);
    writeFileSync(join(dir, 'plainfile'), 'x');
    expect(() => checkWritable(join(dir, 'plainfile', 'm.cnnw'))).toThrow(/plainfile is not a directory/);
    expect(() => checkWritable('/proc/m.cnnw')).toThrow(/cannot write in \/proc/);
    expect(() => checkWritable(join(dir, 'fine.cnnw'))).not.toThrow();
    expect(existsSync(join(dir, 'fine.cnnw'))).toBe(false);
  });

  it('a killed save leaves one temp file, and the next save of the same file removes it', () => {
    const target = join(dir, 'model.cnnw');
    // A process that has exited: its pid is free, so its temp file is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, `.model.cnnw.tmp-${dead}`), 'half a model');
    writeFileSync(join(dir, `.model.cnnw.part-${dead}`), 'half a download');
    writeFileSync(join(dir, `.model.cnnw.tmp-${process.pid}`), 'ours, in progress');
    writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    const left = readdirSync(dir).filter((n) => n.startsWith('.model.cnnw.'));
    expect(left).toEqual([]); // the dead ones removed; ours was the temp file of this very write
    expect(removeStaleTemps(target)).toEqual([]);
  });
});

describe('presets stay loadable after the checks', () => {
  it('a trained preset saves and loads with its optimizer', async () => {
    const { model, recipe } = createPreset('lenet5-bn');
    const opt = sgd({ learningRate: 0.01, momentum: 0.9 });
    await model.fit(mnistSample('train', 64), { optimizer: opt, batchSize: recipe.batchSize, maxSteps: 1 });
    const back = deserializeModel(serializeModel(model, { optimizer: opt }));
    expect(back.optimizer?.iterations).toBe(1);
    expect(() => deserializeModel(new Uint8Array(10), { source: 'x.cnnw' })).toThrow(ModelFileError);
  });
});
