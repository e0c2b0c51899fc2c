/**
 * Pictures handed to predict as canvas ImageData (RGBA): converted as the
 * CLI's image path converts a file, never read as gray values. References:
 * the CLI's own path (PNG bytes through pngjs, decodeImage and toMnist) and
 * naive loops for area and bilinear resizing.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { decodeImage, toMnist } from '../ts/image/decode.js';
import { prepareImage, resizeChannel, type ImageLike } from '../ts/image/prepare.js';
import { conv2d, dense, flatten, maxPooling2d } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';
import { createPreset } from '../ts/models/presets.js';
import { createInferencePool } from '../ts/parallel/infer.js';
import { mnistSample } from './data.js';
import { rng } from './helpers.js';

const be = await initBackend({ backend: 'simd' });
const digits = mnistSample('t10k', 3);

/** A canvas's picture of digit i: dark ink on an opaque white background, scaled up `k` times. */
function canvasOf(i: number, k = 4): ImageLike {
  const w = 28 * k, data = new Uint8ClampedArray(4 * w * w);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) {
    const v = 255 - digits.images[i * 784 + Math.floor(y / k) * 28 + Math.floor(x / k)];
    data.set([v, v, v, 255], 4 * (y * w + x));
  }
  return { data, width: w, height: w };
}
const pngOf = (img: ImageLike) => {
  const p = new PNG({ width: img.width, height: img.height });
  p.data.set(img.data);
  return new Uint8Array(PNG.sync.write(p));
};

describe('predict(ImageData) on a digit model', () => {
  const { model } = createPreset('lenet5-bn', { backend: be, seed: 1 });

  it('one 112x112 RGBA canvas is one example, prepared exactly as cnn-wasm predict prepares the same picture as a PNG', () => {
    const img = canvasOf(0);
    const cli = toMnist(decodeImage(pngOf(img), 'digit.png'));
    expect(Array.from(prepareImage(img, [1, 28, 28]))).toEqual(Array.from(cli));
    const p = model.predict(img);
    expect(p.length).toBe(10);
    expect(Array.from(p)).toEqual(Array.from(model.predict(cli)));
  });

  it('a 28x28 canvas is one example, not four gray ones; a list of pictures is a batch', () => {
    expect(model.predict(canvasOf(1, 1)).length).toBe(10);
    const batch = model.predict([canvasOf(0), canvasOf(1, 1), canvasOf(2, 2)]);
    expect(batch.length).toBe(30);
    expect(Array.from(batch.subarray(10, 20))).toEqual(Array.from(model.predict(canvasOf(1, 1))));
    const cls = (i: number) => model.predictClass(toMnist(decodeImage(pngOf(canvasOf(i)), 'd.png')))[0];
    expect(Array.from(model.predictClass([canvasOf(0), canvasOf(1)]))).toEqual([cls(0), cls(1)]);
  });

  it('the pool and the predictor take an ImageData too', async () => {
    const pool = await createInferencePool(model, { workers: 2 });
    expect(Array.from(await pool.predict(canvasOf(2)))).toEqual(Array.from(model.predict(canvasOf(2))));
    await pool.dispose();
  });

  it('a malformed ImageData or a blank one is named', () => {
    expect(() => model.predict({ data: new Uint8ClampedArray(10), width: 28, height: 28 })).toThrow(/predict: image data holds 10 values; a 28x28 RGBA image has 3136 \(4 a pixel\)/);
    expect(() => model.predict({ data: new Uint8ClampedArray(0), width: 0, height: 0 })).toThrow(/an image of 0x0 pixels/);
    expect(() => model.predict({ data: new Uint8ClampedArray(4 * 784).fill(255), width: 28, height: 28 })).toThrow(/predict: the image is blank/);
  });
});

describe('predict(ImageData) on other models: resized (area when shrinking, bilinear when enlarging)', () => {
  const r = rng(7);
  const picture = (w: number, h: number): ImageLike => ({ data: Uint8ClampedArray.from({ length: 4 * w * h }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(r() * 256))), width: w, height: h });

  it('3x32x32 from 64x64: each channel is the mean of 2x2 blocks', () => {
    const img = picture(64, 64), got = prepareImage(img, [3, 32, 32]);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      let s = 0;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) s += img.data[4 * ((2 * y + dy) * 64 + 2 * x + dx) + c];
      expect(got[c * 1024 + y * 32 + x]).toBe(Math.round(s / 4));
    }
  });

  it('a 1x3 row shrunk to 1x2 weighs the middle pixel half to each side', () => {
    expect(Array.from(resizeChannel([0, 90, 180], 3, 1, 2, 1))).toEqual([30, 150]); // (0 + 45) / 1.5, (45 + 180) / 1.5
  });

  it('enlarging 2x: bilinear at pixel centres, edges clamped', () => {
    const src = [10, 20, 30, 40], out = resizeChannel(src, 2, 2, 4, 4);
    // Output x maps to source (x + 0.5) / 2 - 0.5: -0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
    const at = (v: number) => Math.min(1, Math.max(0, v));
    const lerp = (a: number, b: number, f: number) => a + (b - a) * f;
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
      const fx = at((x + 0.5) / 2 - 0.5), fy = at((y + 0.5) / 2 - 0.5);
      expect(out[y * 4 + x]).toBeCloseTo(lerp(lerp(10, 20, fx), lerp(30, 40, fx), fy), 5);
    }
  });

  it('a 1x16x16 model gets the gray picture resized; a 3-channel model predicts from a colour picture', () => {
    const gray = sequential([flatten(), dense({ units: 10 })], { inputShape: [1, 16, 16], backend: be, seed: 1 });
    const img = picture(48, 32);
    expect(gray.predict(img).length).toBe(10);
    const rgb = sequential([conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 10 })], { inputShape: [3, 32, 32], backend: be, seed: 1 });
    expect(Array.from(rgb.predict(img))).toEqual(Array.from(rgb.predict(prepareImage(img, [3, 32, 32]))));
    gray.dispose();
    rgb.dispose();
  });
});
