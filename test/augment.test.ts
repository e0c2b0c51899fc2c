/**
 * Augmentation: seeded by the step and the image's place in the batch, so a
 * model trained with it on 1, 2 or 3 workers is the same bytes; each
 * transformation checked against what it must do to a picture.
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { augmentInto, checkAugment, parseAugment } from '../ts/data/augment.js';
import { serializeModel } from '../ts/model-file.js';
import { createPreset } from '../ts/models/presets.js';
import { optimizerFromConfig } from '../ts/optim/optimizer.js';
import { mnistSample } from './data.js';
import { rng } from './helpers.js';

const r = rng(21);
const picture = Uint8Array.from({ length: 3 * 12 * 10 }, () => Math.floor(r() * 256)); // [3, 12, 10]
const shape = [3, 12, 10];
const run = (spec: Parameters<typeof augmentInto>[3], seed = 7, pos = 0) => {
  const out = new Uint8Array(picture.length);
  augmentInto(out, picture, shape, spec, seed, pos);
  return out;
};
/** The picture moved by (dx, dy), edges repeated, optionally mirrored first. */
const moved = (dx: number, dy: number, flip = false) => {
  const out = new Uint8Array(picture.length), [c, h, w] = shape;
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const sx = Math.min(w - 1, Math.max(0, (flip ? w - 1 - x : x) - dx)), sy = Math.min(h - 1, Math.max(0, y - dy));
    out[ch * h * w + y * w + x] = picture[ch * h * w + sy * w + sx];
  }
  return out;
};

describe('augmentInto', () => {
  it('nothing asked: the picture as it is', () => {
    expect(Array.from(run({}))).toEqual(Array.from(picture));
  });

  it('a shift is a whole-pixel move of at most `shift` each way, edges repeated; a flip mirrors left-right; seeds and places pick them', () => {
    const seen = new Set<string>();
    for (let pos = 0; pos < 40; pos++) {
      const out = Array.from(run({ shift: 2, flip: true }, 11, pos));
      const match: string[] = [];
      for (let dx = -2; dx <= 2; dx++) for (let dy = -2; dy <= 2; dy++) for (const f of [false, true]) if (Array.from(moved(dx, dy, f)).every((v, i) => v === out[i])) match.push(`${dx},${dy},${f}`);
      expect(match).toHaveLength(1);
      seen.add(match[0]);
    }
    expect(seen.size).toBeGreaterThan(10); // the draws vary with the image's place
    expect(Array.from(run({ shift: 2, flip: true }, 11, 3))).toEqual(Array.from(run({ shift: 2, flip: true }, 11, 3)));
  });

  it('rotation and scaling keep a flat picture flat; brightness and contrast move every value alike, mid-gray fixed under contrast', () => {
    const flat = new Uint8Array(picture.length).fill(90), out = new Uint8Array(flat.length);
    augmentInto(out, flat, shape, { rotate: 30, scale: 0.2 }, 5, 1);
    expect(new Set(out)).toEqual(new Set([90]));
    augmentInto(out, flat, shape, { brightness: 0.2 }, 5, 1);
    expect(new Set(out).size).toBe(1);
    expect(Math.abs(out[0] - 90)).toBeLessThanOrEqual(51);
    const mid = new Uint8Array(picture.length).fill(128);
    augmentInto(out, mid, shape, { contrast: 0.5 }, 5, 1);
    expect(new Set(out)).toEqual(new Set([128]));
  });

  it('a small rotation moves pixels only a little: the picture stays close to itself', () => {
    const smooth = Uint8Array.from({ length: 3 * 12 * 10 }, (_, i) => (i % 10) * 20 + Math.floor(i / 10) % 12 * 5);
    const out = new Uint8Array(smooth.length);
    augmentInto(out, smooth, shape, { rotate: 3 }, 9, 0);
    let err = 0;
    for (let i = 0; i < out.length; i++) err += Math.abs(out[i] - smooth[i]);
    expect(err / out.length).toBeLessThan(6);
    expect(Array.from(out)).not.toEqual(Array.from(smooth));
  });

  it('options are checked by name; the CLI spelling parses', () => {
    expect(() => checkAugment({ zoom: 2 }, 'fit')).toThrow(/fit: augment.zoom is not an augmentation \(shift, flip, rotate, scale, brightness, contrast\)/);
    expect(() => checkAugment({ shift: 1.5 }, 'fit')).toThrow(/augment.shift must be a whole number of pixels/);
    expect(() => checkAugment({ rotate: -1 }, 'fit')).toThrow(/augment.rotate must be a number from 0 to 180, got -1/);
    expect(parseAugment('shift=2,flip,rotate=10')).toEqual({ shift: 2, flip: true, rotate: 10, scale: undefined, brightness: undefined, contrast: undefined });
    expect(() => parseAugment('shift=x')).toThrow(/--augment: 'shift=x' is not name=number \(or flip\)/);
  });
});

describe('fit({ augment })', () => {
  it('trains to the same bytes on 1, 2 and 3 workers, and to other bytes than without it', async () => {
    const be = await initBackend({ backend: 'simd' });
    const data = mnistSample('train', 320);
    const train = async (workers: number, augment?: object) => {
      const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 4 });
      await model.fit(data, { optimizer: optimizerFromConfig(recipe.optimizer), epochs: 1, batchSize: 96, seed: 2, workers, augment });
      const bytes = serializeModel(model);
      model.dispose();
      return Buffer.from(bytes);
    };
    const aug = { shift: 2, rotate: 10, scale: 0.1, brightness: 0.1, contrast: 0.1 };
    const one = await train(1, aug);
    expect(one.equals(await train(2, aug))).toBe(true);
    expect(one.equals(await train(3, aug))).toBe(true);
    expect(one.equals(await train(1))).toBe(false);
  }, 60_000);

  it('refuses float images and bad options by name', async () => {
    const { model, recipe } = createPreset('dense-head', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
    const f32 = { images: new Float32Array(2 * 784), labels: [0, 1], count: 2 };
    await expect(model.fit(f32, { optimizer: optimizerFromConfig(recipe.optimizer), augment: { flip: true } })).rejects.toThrow(/fit: augment transforms u8 pixels/);
    await expect(model.fit(mnistSample('train', 8), { optimizer: optimizerFromConfig(recipe.optimizer), augment: { flip: 'yes' } as never })).rejects.toThrow(/fit: augment.flip must be true or false/);
    model.dispose();
  });
});
