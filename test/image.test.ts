/** Decoding the pictures `cnn-wasm predict` reads: bad files are refused, transparency read as a person drew it. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, decodePgm, decodePng, MAX_IMAGE_SIDE, toMnist } from '../ts/image/decode.js';
import { crc32 } from '../ts/io/crc32.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** A 28x28 PNG with a vertical stroke; `pixel(ink)` gives RGBA for ink (true) or background. */
function strokePng(pixel: (ink: boolean) => [number, number, number, number]): Uint8Array {
  const png = new PNG({ width: 28, height: 28 });
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const ink = x >= 10 && x < 16 && y >= 5 && y < 23;
      png.data.set(pixel(ink), 4 * (y * 28 + x));
    }
  }
  return PNG.sync.write(png);
}

describe('PGM', () => {
  it('a non-numeric token is refused', () => {
    expect(() => decodePgm(enc('P2 2 2 255 0 12 x7 4'), 'a.pgm')).toThrow(/a.pgm: pixel 2 is "x7", not a number/);
    expect(() => decodePgm(enc('P2 2 two 255 0 1 2 3'), 'b.pgm')).toThrow(/b.pgm: invalid PGM header: "2 two 255" is not width, height and maxval/);
    expect(() => decodePgm(enc('P2 2 1 255 1e2 3'), 'c.pgm')).toThrow(/c.pgm: pixel 0 is "1e2", not a number/);
  });

  it('a value above maxval is refused, in ASCII and binary PGM', () => {
    expect(() => decodePgm(enc('P2 2 1 15 3 16'), 'a.pgm')).toThrow(/a.pgm: pixel 1 is 16, above the maxval 15/);
    const bin = new Uint8Array([...enc('P5 2 1 100 '), 50, 200]);
    expect(() => decodePgm(bin, 'b.pgm')).toThrow(/b.pgm: pixel 1 is 200, above the maxval 100/);
    expect(decodePgm(new Uint8Array([...enc('P5 2 1 100 '), 50, 100]), 'ok.pgm').data).toEqual(new Float32Array([127.5, 255]));
  });

  it('ASCII PGM values are read as a string split reads them: any whitespace, comments, leading zeros, 16-bit maxval', () => {
    /** The reference: comments cut to the end of their line, the rest split on whitespace. */
    const reference = (text: string) => {
      const t = text.replace(/#[^\n]*/g, ' ').split(/\s+/).filter(Boolean);
      const [w, h, max] = t.slice(1, 4).map(Number);
      return Float32Array.from(t.slice(4, 4 + w * h).map((v) => (Number(v) / max) * 255));
    };
    let seed = 7;
    const rand = (k: number) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % k; };
    const gaps = [' ', '  ', '\t', '\n', '\r\n', ' \v\f', '\n# a comment 12 34\n', ' #\n'];
    for (const max of [1, 255, 1000, 65535]) {
      const w = 1 + rand(9), h = 1 + rand(9);
      let text = `P2${gaps[rand(8)]}${w} ${h}\n${max}`;
      for (let i = 0; i < w * h; i++) text += gaps[rand(8)] + '0'.repeat(rand(3)) + String(rand(max + 1));
      text += rand(2) ? '\n' : '';
      const got = decodePgm(enc(text), 'r.pgm');
      expect([got.width, got.height]).toEqual([w, h]);
      expect(got.data, text).toEqual(reference(text));
    }
    expect(() => decodePgm(enc('P2 3 1 255 1 2'), 't.pgm')).toThrow(/^t.pgm: truncated PGM: 2 of 3 pixel values$/);
    expect(() => decodePgm(enc('P2 2 1 255 1 2#x'), 'h.pgm')).toThrow(/^h.pgm: pixel 1 is "2#x", not a number$/);
    expect(() => decodePgm(enc(`P2 1 1 255 ${'9'.repeat(400)}`), 'l.pgm')).toThrow(/^l.pgm: pixel 0 is Infinity, above the maxval 255/);
  });

  it('sides beyond the limit are refused from the header', () => {
    expect(() => decodePgm(enc(`P5 ${MAX_IMAGE_SIDE + 1} 1 255 `), 'big.pgm')).toThrow(/big.pgm: invalid PGM header \(4097x1/);
  });
});

describe('PNG', () => {
  it('dimensions beyond the documented limit are refused before decoding', () => {
    // A real 1x1 PNG whose IHDR claims 100000 x 100000: pngjs would try to inflate 40 GB of pixels.
    const png = new PNG({ width: 1, height: 1 });
    const bytes = new Uint8Array(PNG.sync.write(png));
    const dv = new DataView(bytes.buffer);
    dv.setUint32(16, 100_000, false);
    dv.setUint32(20, 100_000, false);
    expect(() => decodeImage(bytes, 'bomb.png')).toThrow(/bomb.png: PNG is 100000x100000, larger than the 4096x4096 limit/);
  });

  it('a digit whose alpha carries the ink reads like the same digit drawn black on white', () => {
    const reference = toMnist(decodePng(strokePng((ink) => (ink ? [0, 0, 0, 255] : [255, 255, 255, 255])), 'ref.png'));
    expect(Math.max(...reference)).toBeGreaterThan(200);
    for (const [what, px] of [
      ['white ink on a transparent background', (ink: boolean) => (ink ? [255, 255, 255, 255] : [255, 255, 255, 0])],
      ['white ink on transparent black', (ink: boolean) => (ink ? [255, 255, 255, 255] : [0, 0, 0, 0])],
      ['black ink on a transparent background', (ink: boolean) => (ink ? [0, 0, 0, 255] : [0, 0, 0, 0])],
      ['coloured ink on transparent white', (ink: boolean) => (ink ? [200, 30, 30, 255] : [255, 255, 255, 0])],
    ] as const) {
      const got = toMnist(decodePng(strokePng(px as (ink: boolean) => [number, number, number, number]), 'alpha.png'));
      // Same strokes in the same place (the coloured ink is lighter, so compare where the ink is).
      const inkAt = (v: Uint8Array) => Array.from(v, (p) => (p > 64 ? 1 : 0));
      expect(inkAt(got), what).toEqual(inkAt(reference));
    }
  });
});

describe('PNG, the common kinds unfiltered without pngjs', () => {
  it('gray, gray + alpha, RGB and RGBA at 8 bits, every filter type, decode to the RGBA pngjs gives', async () => {
    const { decodeRgba } = await import('../ts/image/decode.js');
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (const colorType of [0, 4, 2, 6] as const) {
      for (const filterType of [0, 1, 2, 3, 4, -1]) {
        for (const [w, h] of [[1, 1], [5, 3], [17, 9]]) {
          const png = new PNG({ width: w, height: h });
          // smooth ramps with noise, so every filter's predictions matter
          for (let i = 0; i < w * h; i++) for (let c = 0; c < 4; c++) png.data[4 * i + c] = ((i % w) * 13 + Math.floor(i / w) * 7 + c * 50 + (rand() & 15)) & 255;
          const bytes = PNG.sync.write(png, { colorType, inputColorType: 6, filterType, inputHasAlpha: true } as never);
          const ours = decodeRgba(bytes, 'x.png'), theirs = PNG.sync.read(bytes);
          expect([ours.width, ours.height]).toEqual([w, h]);
          expect(Buffer.from(ours.data).equals(theirs.data), `colour type ${colorType}, filter ${filterType}, ${w}x${h}`).toBe(true);
        }
      }
    }
  });
});

describe('PNG image data split across many chunks', () => {
  /** The PNG's chunks, with its IDAT data re-cut into pieces of `size` bytes, an empty IDAT between each two. */
  function recut(bytes: Uint8Array, size: number): Uint8Array {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const chunk = (t: string, d: Uint8Array) => {
      const b = new Uint8Array(12 + d.length);
      new DataView(b.buffer).setUint32(0, d.length);
      b.set(enc(t), 4);
      b.set(d, 8);
      new DataView(b.buffer).setUint32(8 + d.length, crc32(b.subarray(4, 8 + d.length)));
      return b;
    };
    const before: Uint8Array[] = [], data: Uint8Array[] = [], after: Uint8Array[] = [];
    for (let at = 8; at < bytes.length;) {
      const len = dv.getUint32(at), t = new TextDecoder().decode(bytes.subarray(at + 4, at + 8));
      if (t === 'IDAT') data.push(bytes.subarray(at + 8, at + 8 + len));
      else (data.length ? after : before).push(bytes.subarray(at, at + 12 + len));
      at += 12 + len;
    }
    const all = Buffer.concat(data), pieces: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += size) pieces.push(chunk('IDAT', all.subarray(i, i + size)), chunk('IDAT', new Uint8Array(0)));
    return Buffer.concat([bytes.subarray(0, 8), ...before, ...pieces, ...after]);
  }

  it('5 million empty IDAT chunks (a 60 MB file) decode within a JS heap of 128 MB (an object a chunk needed 700 MB)', () => {
    const decoder = JSON.stringify(new URL('../dist/image/decode.js', import.meta.url).href);
    const emptyCrc = new Uint8Array(4);
    new DataView(emptyCrc.buffer).setUint32(0, crc32(enc('IDAT'))); // an empty IDAT's CRC covers its type alone
    const script = `
      const { PNG } = await import('pngjs');
      const { decodeRgba } = await import(${decoder});
      const png = new PNG({ width: 8, height: 8 });
      png.data.fill(77);
      const one = PNG.sync.write(png);
      const iend = one.length - 12, n = 5_000_000;
      // The file: everything up to IEND, n empty IDAT chunks (12 bytes each: length 0, type, CRC), IEND.
      const file = new Uint8Array(one.length + 12 * n);
      file.set(one.subarray(0, iend));
      const empty = [0, 0, 0, 0, 73, 68, 65, 84, ${Array.from(emptyCrc).join(', ')}];
      for (let i = 0; i < n; i++) file.set(empty, iend + 12 * i);
      file.set(one.subarray(iend), iend + 12 * n);
      const img = decodeRgba(file, 'many.png');
      console.log(img.width, img.height, img.data[0], img.data[3]);`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=128', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname });
    expect(r.status, r.stderr.slice(0, 1000)).toBe(0);
    expect(r.stdout.trim()).toBe('8 8 77 77');
  }, 120_000);

  it('gives the pixels of the same PNG in one chunk, whatever the pieces (one byte, seven, empty ones between)', async () => {
    const { decodeRgba } = await import('../ts/image/decode.js');
    const png = new PNG({ width: 23, height: 11 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 37 + (i >> 5)) & 255;
    for (const colorType of [0, 2, 6] as const) {
      const one = PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true } as never);
      const want = PNG.sync.read(one).data;
      for (const size of [1, 7, 1000]) {
        const cut = recut(one, size);
        expect(Buffer.from(decodeRgba(cut, 'cut.png').data).equals(want), `colour type ${colorType}, pieces of ${size}`).toBe(true);
      }
    }
  });
});

describe('PNG chunk CRCs', () => {
  /** Where the first chunk of `type` starts. */
  const find = (b: Uint8Array, type: string) => Buffer.from(b).indexOf(type) - 4;

  it('a damaged critical chunk is refused naming it and its place (before: zlib\'s "incorrect data check", or a size mismatch); a damaged ancillary chunk is not', async () => {
    const { decodeRgba } = await import('../ts/image/decode.js');
    const png = new PNG({ width: 6, height: 4 });
    png.data.fill(90);
    const good = PNG.sync.write(png, { deflateLevel: 0 } as never);
    const idat = find(good, 'IDAT');
    const bad = Uint8Array.from(good);
    bad[idat + 8 + 20] ^= 0x40;
    expect(() => decodeRgba(bad, 'bad.png')).toThrow(`bad.png: not a readable PNG (chunk "IDAT" at byte ${idat} does not match its CRC: the file is damaged)`);
    const badHeader = Uint8Array.from(good);
    badHeader[8 + 8 + 12] ^= 1; // IHDR's interlace byte
    expect(() => decodeRgba(badHeader, 'h.png')).toThrow(/h.png: not a readable PNG \(chunk "IHDR" at byte 8 does not match its CRC/);
    // A tEXt chunk with a wrong CRC, before IDAT: read past, as libpng does with ancillary chunks.
    const text = Buffer.alloc(12 + 5);
    text.writeUInt32BE(5, 0);
    text.write('tEXtnote\0x', 4, 'latin1');
    const withText = Buffer.concat([good.subarray(0, idat), text, good.subarray(idat)]);
    expect(Buffer.from(decodeRgba(withText, 't.png').data).equals(PNG.sync.read(good).data)).toBe(true);
  });

  it('a folder load skips a damaged PNG with that reason', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cnn-wasm-crc-'));
    const png = new PNG({ width: 8, height: 8 });
    png.data.fill(200);
    const good = PNG.sync.write(png);
    for (const c of ['a', 'b']) {
      mkdirSync(join(root, c));
      for (let i = 0; i < 3; i++) writeFileSync(join(root, c, `${i}.png`), good);
    }
    const bad = Uint8Array.from(good);
    bad[find(good, 'IDAT') + 9] ^= 1;
    writeFileSync(join(root, 'b', 'damaged.png'), bad);
    const { loadImageFolder } = await import('../ts/data/folder.js');
    const f = await loadImageFolder(root, { valSize: 0 });
    expect(f.train.count).toBe(6);
    expect(f.skipped.map((x) => [x.file, x.reason])).toEqual([[join(root, 'b', 'damaged.png'), `not a readable PNG (chunk "IDAT" at byte ${find(good, 'IDAT')} does not match its CRC: the file is damaged)`]]);
  });
});

describe('prepareImage at the picture\'s own size', () => {
  it('an opaque picture gives its R, G and B values as planes; a transparent pixel is composited on white', async () => {
    const { prepareImage } = await import('../ts/image/prepare.js');
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    const w = 7, h = 5, data = new Uint8ClampedArray(4 * w * h).map((_, i) => (i % 4 === 3 ? 255 : rand()));
    const planes = prepareImage({ width: w, height: h, data }, [3, h, w], 'x', 'resize');
    for (let ch = 0; ch < 3; ch++) for (let i = 0; i < w * h; i++) expect(planes[ch * w * h + i]).toBe(data[4 * i + ch]);
    data[4 * 6 + 3] = 0; // pixel 6 fully transparent: white
    const composited = prepareImage({ width: w, height: h, data }, [3, h, w], 'x', 'resize');
    expect([composited[6], composited[w * h + 6], composited[2 * w * h + 6]]).toEqual([255, 255, 255]);
    expect(composited[7]).toBe(data[4 * 7]);
  });
});

describe("prepareImage with fit 'crop': the picture's largest centred part of the input's shape, resized", () => {
  it('centreCrop keeps whole rows or columns and splits the cut evenly (the odd pixel to the right or bottom)', async () => {
    const { centreCrop } = await import('../ts/image/prepare.js');
    expect(centreCrop(12, 6, 4, 4)).toEqual([3, 0, 6, 6]);
    expect(centreCrop(11, 4, 4, 4)).toEqual([3, 0, 4, 4]); // 7 columns cut: 3 on the left, 4 on the right
    expect(centreCrop(4, 11, 4, 4)).toEqual([0, 3, 4, 4]);
    expect(centreCrop(640, 480, 32, 32)).toEqual([80, 0, 480, 480]); // a landscape photo for a square input
    expect(centreCrop(480, 640, 32, 32)).toEqual([0, 80, 480, 480]); // the same photo taken upright
    expect(centreCrop(100, 100, 40, 20)).toEqual([0, 25, 100, 50]); // a 2:1 input: rows cut
    expect(centreCrop(30, 20, 12, 8)).toEqual([0, 0, 30, 20]); // already the input's shape
    expect(centreCrop(1, 50, 8, 8)).toEqual([0, 24, 1, 1]);
  });

  it("equals the area average of the centre alone (float64 reference), and nothing of the cut edges leaks in, for RGB and gray models", async () => {
    const { prepareImage } = await import('../ts/image/prepare.js');
    // 12x6, aspect 2:1: columns 0-2 and 9-11 pure red; the centre 6x6 (columns 3-8) blue-green values.
    const w = 12, h = 6, data = new Uint8ClampedArray(4 * w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const centre = x >= 3 && x <= 8;
        data.set(centre ? [0, 20 * (x - 3) + 7 * y, 250 - 13 * y, 255] : [255, 0, 0, 255], 4 * (y * w + x));
      }
    }
    // Area average of the 6x6 centre down to 4x4, in float64: output pixel o covers source [1.5 o, 1.5 o + 1.5).
    const area = (ch: number) => {
      const out: number[] = [];
      for (let oy = 0; oy < 4; oy++) {
        for (let ox = 0; ox < 4; ox++) {
          let s = 0;
          for (let sy = 0; sy < 6; sy++) {
            for (let sx = 0; sx < 6; sx++) {
              const cover = (a: number, i: number) => Math.max(0, Math.min(a + 1.5, i + 1) - Math.max(a, i));
              s += cover(1.5 * ox, sx) * cover(1.5 * oy, sy) * data[4 * (sy * w + sx + 3) + ch];
            }
          }
          out.push(s / 2.25);
        }
      }
      return out;
    };
    const rgb = prepareImage({ width: w, height: h, data }, [3, 4, 4], 'x', 'crop');
    for (let ch = 0; ch < 3; ch++) {
      const want = area(ch);
      for (let i = 0; i < 16; i++) expect(Math.abs(rgb[ch * 16 + i] - want[i]), `channel ${ch} pixel ${i}`).toBeLessThanOrEqual(0.5 + 1e-4);
    }
    expect(Math.max(...rgb.subarray(0, 16))).toBe(0); // no red from the cut columns
    const squeezed = prepareImage({ width: w, height: h, data }, [3, 4, 4], 'x', 'resize');
    expect(Math.max(...squeezed.subarray(0, 16))).toBeGreaterThan(100); // 'resize' keeps them
    const gray = prepareImage({ width: w, height: h, data }, [1, 4, 4], 'x', 'crop');
    const lum = [0, 1, 2].map(area);
    for (let i = 0; i < 16; i++) expect(Math.abs(gray[i] - (0.299 * lum[0][i] + 0.587 * lum[1][i] + 0.114 * lum[2][i]))).toBeLessThanOrEqual(1);
  });

  it('a fit that is none of resize, crop or digit is refused by name', async () => {
    const { prepareImage } = await import('../ts/image/prepare.js');
    const img = { width: 2, height: 2, data: new Uint8ClampedArray(16).fill(255) };
    expect(() => prepareImage(img, [3, 2, 2], 'p.png', 'cover' as never)).toThrow(`p.png: fit must be 'resize', 'digit', 'crop', got "cover"`);
  });
});

