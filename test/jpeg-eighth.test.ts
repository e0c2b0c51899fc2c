/**
 * JPEGs decoded at 1/8 scale (each 8x8 block's mean from its DC coefficient):
 * against libjpeg-turbo's own 1/8-scale decode of the same files (djpeg
 * -scale 1/8 -nosmooth, fixtures written by scripts/make-jpeg-eighth-fixtures.sh),
 * and against block means of jpeg-js's full decode; what the reader does not
 * handle, and malformed or cut files, come back as null (the full decoder's
 * business), never as an exception or wrong pixels.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { decodeFile } from '../ts/data/decode-files.js';
import { loadImageFolder } from '../ts/data/folder.js';
import { saveModel } from '../ts/model-file-node.js';
import { createPreset } from '../ts/models/presets.js';
import { loadPictures } from '../ts/data/pictures.js';
import { decodeRgba } from '../ts/image/decode.js';
import { decodeJpegEighth } from '../ts/image/jpeg-eighth.js';
import { prepareImage } from '../ts/image/prepare.js';
import { writePhotoFolder } from './support/pictures.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/jpeg-eighth/${name}`, import.meta.url)));

/** A binary PPM (P6) or PGM (P5) as RGBA. */
function readPnm(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64)).match(/^(P[56])\s+(\d+)\s+(\d+)\s+(\d+)\s/)!;
  const [, magic, w, h] = head, width = Number(w), height = Number(h), ch = magic === 'P6' ? 3 : 1, px = bytes.subarray(head[0].length);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) data[4 * i + c] = px[i * ch + (ch === 3 ? c : 0)];
    data[4 * i + 3] = 255;
  }
  return { width, height, data };
}

const maxDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('decodeJpegEighth', () => {
  // Chroma sampled at half the width (4:2:2) or half each side (4:2:0): a chroma block covers 2x1 or 2x2 blocks of the picture.
  it.each([
    ['colour444', 1, 1], ['gray', 1, 1], ['colour422', 2, 1], ['colour420', 2, 2], ['restart', 2, 2], ['separate-scans', 2, 2],
    ['progressive', 2, 2], ['progressive-restart', 2, 2], ['progressive-gray', 1, 1],
  ] as const)('%s.jpg gives what libjpeg-turbo decodes at 1/8 scale', (name, sx, sy) => {
    const got = decodeJpegEighth(fixture(`${name}.jpg`));
    const want = readPnm(fixture(`${name}.eighth.pnm`));
    expect(got).not.toBeNull();
    expect([got!.width, got!.height]).toEqual([want.width, want.height]);
    // This reader gives a chroma block its mean (its DC) over all the pixels it covers; libjpeg draws finer chroma from
    // the block's first AC coefficients. Over the pixels a chroma block covers, the two agree: compared there. (libjpeg
    // also rounds each block's value before its integer colour conversion; this reader converts the exact means.)
    const pool = (img: { width: number; height: number; data: Uint8Array }) => {
      const w = Math.floor(img.width / sx), h = Math.floor(img.height / sy), out = new Float64Array(w * h * 3);
      for (let y = 0; y < h * sy; y++) for (let x = 0; x < w * sx; x++) for (let c = 0; c < 3; c++) out[3 * (Math.floor(y / sy) * w + Math.floor(x / sx)) + c] += img.data[4 * (y * img.width + x) + c] / (sx * sy);
      return out;
    };
    // Where libjpeg's finer chroma pushes a pixel past 255 (the white stripes), its clamped value pulls the pool's mean a few levels down.
    const a = pool(got!), b = pool(want);
    expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThanOrEqual(sx * sy > 1 ? 4 : 2);
    if (sx === 1 && sy === 1) expect(maxDiff(got!.data, want.data)).toBeLessThanOrEqual(2);
  });

  it("gives each 8x8 block's mean of jpeg-js's full decode (4:4:4, whole blocks)", () => {
    const w = 96, h = 64, src = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) src.set([x * 2, y * 3, (x * y) % 200, 255], 4 * (y * w + x));
    const bytes = new Uint8Array(jpeg.encode({ data: src, width: w, height: h }, 90).data);
    const full = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    const got = decodeJpegEighth(bytes)!;
    expect([got.width, got.height]).toEqual([12, 8]);
    const means = new Uint8Array(12 * 8 * 4);
    for (let by = 0; by < 8; by++) {
      for (let bx = 0; bx < 12; bx++) {
        for (let c = 0; c < 4; c++) {
          let s = 0;
          for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) s += full.data[4 * ((by * 8 + y) * w + bx * 8 + x) + c];
          means[4 * (by * 12 + bx) + c] = Math.round(s / 64);
        }
      }
    }
    // jpeg-js rounds and clamps each pixel before the mean is taken here.
    expect(maxDiff(got.data, means)).toBeLessThanOrEqual(2);
  });

  it('arithmetic-coded files, and what is no JPEG, are left to the full decoder', () => {
    expect(decodeJpegEighth(fixture('arithmetic.jpg'))).toBeNull();
    expect(decodeJpegEighth(Uint8Array.of(0x89, 0x50, 0x4e, 0x47))).toBeNull();
  });

  it.each(['restart', 'progressive-restart'])('%s.jpg cut anywhere, or with bytes spoilt, gives null or a picture of the declared size, never an exception', (name) => {
    const good = fixture(`${name}.jpg`);
    const sos = good.findIndex((b, i) => b === 0xff && good[i + 1] === 0xda);
    for (let cut = 0; cut < good.length - 2; cut += 7) {
      const r = decodeJpegEighth(good.subarray(0, cut));
      // Cut inside the image data: the bits it needed are missing, so no picture.
      if (cut > sos + 20) expect(r, `cut at ${cut}`).toBeNull();
    }
    let seed = 11;
    const rand = (k: number) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % k; };
    let pictures = 0;
    for (let t = 0; t < 400; t++) {
      const b = good.slice();
      for (let k = 0; k < 1 + rand(4); k++) b[rand(b.length)] = rand(256);
      const r = decodeJpegEighth(b);
      if (r) {
        pictures++;
        expect(r.data.length).toBe(r.width * r.height * 4);
        expect(r.width).toBeLessThanOrEqual(Math.ceil(65535 / 8));
      }
    }
    expect(pictures).toBeGreaterThan(0); // spoilt entropy data still decodes to something, as in any decoder
  });
});

describe('large JPEGs to be shrunk', () => {
  const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-photos-')), 'photos');
  writePhotoFolder(root, 6);
  const files = ['cool', 'warm'].flatMap((c) => readdirSync(join(root, c)).sort().map((f) => join(root, c, f)));

  it('decodeRgba with fitTo reads a JPEG 8 times that size at 1/8 scale, upright, and says its own size; smaller ones, and no fitTo, in full', () => {
    const bytes = readFileSync(files[2]); // stored 176x240, orientation 6: 240 wide and 176 high upright
    const small = decodeRgba(bytes, 'p.jpg', { fitTo: [20, 30] });
    expect([small.width, small.height]).toEqual([30, 22]);
    expect('full' in small && small.full).toEqual({ width: 240, height: 176 });
    for (const fitTo of [[23, 30], [22, 31], null] as const) {
      const full = decodeRgba(bytes, 'p.jpg', { fitTo });
      expect([full.width, full.height, 'full' in full], JSON.stringify(fitTo)).toEqual([240, 176, false]);
    }
  });

  it('an image folder at a small size: the pictures fitted from 1/8 scale are near what the full pictures give', async () => {
    const f = await loadImageFolder(root, { imageSize: 16, threads: 1 });
    expect(f.shape).toEqual([3, 16, 16]);
    expect(f.pictureSizes).toEqual({ height: [176, 176], width: [240, 240] });
    // The same pictures, decoded in full and fitted: area averaging sees a block that straddles a pixel's edge
    // as its mean, so where a stripe edge (40 levels) falls inside such a block, the pixel moves by at most
    // 40 x 7/15 levels (a pixel spans 15 columns here); a picture turned the wrong way would be off by far more.
    const fromFull = files.map((file) => prepareImage(decodeRgba(readFileSync(file), file), [3, 16, 16], file, 'resize'));
    const got = Array.from({ length: f.train.count }, (_, i) => f.train.images.subarray(i * 768, (i + 1) * 768));
    let worst = 0, sum = 0;
    for (const g of got) {
      // The hold-out shuffles the order: each fitted picture against the full picture nearest it.
      const diffs = fromFull.map((r) => r.reduce((m, v, j) => Math.max(m, Math.abs(v - g[j])), 0));
      worst = Math.max(worst, Math.min(...diffs));
      const best = fromFull[diffs.indexOf(Math.min(...diffs))];
      sum += best.reduce((t, v, j) => t + Math.abs(v - g[j]), 0) / 768;
    }
    expect(worst).toBeLessThanOrEqual(18);
    expect(sum / got.length).toBeLessThan(3); // 2.2 levels on average for these stripes
  });

  it('loadPictures gives the folder\'s data set byte for byte (the same 1/8-scale reader)', async () => {
    const byClass: Record<string, File[]> = {};
    for (const file of files) {
      const cls = file.split('/').at(-2)!;
      (byClass[cls] ??= []).push(new File([readFileSync(file)], file.split('/').at(-1)!));
    }
    const page = await loadPictures(byClass, { imageSize: 16, valSize: 0.25 }), disk = await loadImageFolder(root, { imageSize: 16, valSize: 0.25, threads: 1 });
    expect(Buffer.from(page.train.images).equals(Buffer.from(disk.train.images))).toBe(true);
    expect(page.pictureSizes).toEqual(disk.pictureSizes);
  });
});

describe('predict on a large JPEG', () => {
  it('cnn-wasm predict prepares a photo as the folder loader prepared it for training: the same probabilities', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-photo-predict-')), 'photos');
    writePhotoFolder(root, 3);
    const file = join(root, 'warm', '002.jpg'); // sideways, orientation 6
    const { model } = createPreset('simple', { backend: await initBackend({ backend: 'simd' }), inputShape: [3, 16, 16], classes: 2, seed: 4 });
    const path = join(root, '..', 'm.cnnw');
    saveModel(model, path, { metadata: { classNames: ['cool', 'warm'], fit: 'resize' } });
    const loaded = decodeFile(file, { size: [16, 16], fit: 'resize' });
    if ('reason' in loaded) throw new Error(loaded.reason);
    expect(loaded.from).toEqual([176, 240]);
    const want = Array.from(model.predict(loaded.px));
    const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'predict', path, file, '--json', '--top', '2', '--backend', 'simd'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout).predictions as { class: number; probability: number }[];
    for (const p of got) expect(p.probability).toBe(want[p.class]);
    model.dispose();
  });
});
