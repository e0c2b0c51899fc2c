import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { encodeIdx, pairImagesLabels, MAX_IDX_VALUES } from '../ts/data/idx.js';
import { parseIdx } from '../ts/data/idx-node.js';
import { readSplit, sampleDir } from '../ts/data/sample.js';

const images = (n: number) => encodeIdx([n, 2, 3], Uint8Array.from({ length: n * 6 }, (_, i) => i % 256));
const labels = (vals: number[]) => encodeIdx([vals.length], Uint8Array.from(vals));

describe('IDX reader', () => {
  it('reads raw and gzip files and checks images against labels', () => {
    for (const wrap of [(b: Uint8Array) => b, (b: Uint8Array) => new Uint8Array(gzipSync(b))]) {
      const im = parseIdx(wrap(images(4)), 'im', 3), lb = parseIdx(wrap(labels([0, 9, 3, 1])), 'lb', 1);
      expect(im.dims).toEqual([4, 2, 3]);
      expect(Array.from(im.data.subarray(0, 7))).toEqual([0, 1, 2, 3, 4, 5, 6]);
      const p = pairImagesLabels(im, lb, 'im', 'lb');
      expect([p.count, p.rows, p.cols]).toEqual([4, 2, 3]);
      expect(Array.from(p.labels)).toEqual([0, 9, 3, 1]);
    }
  });

  it('reads the bundled real-MNIST sample: 9,000 + 1,000 digits, every class present', () => {
    const tr = readSplit(sampleDir(), 'train'), te = readSplit(sampleDir(), 't10k');
    expect([tr.count, tr.rows, tr.cols, te.count]).toEqual([9000, 28, 28, 1000]);
    const counts = new Array(10).fill(0);
    tr.labels.forEach((l) => counts[l]++);
    expect(counts.every((c) => c > 700)).toBe(true);
    // Real digits: ink in the middle, black corners.
    let corner = 0, centre = 0;
    for (let i = 0; i < 1000; i++) { corner += tr.images[i * 784]; centre += tr.images[i * 784 + 14 * 28 + 14]; }
    expect(corner).toBe(0);
    expect(centre).toBeGreaterThan(1000 * 50);
  });

  it('rejects crafted bad files with errors naming the file and the problem', () => {
    const good = images(4);
    expect(() => parseIdx(good.subarray(0, good.length - 5), 'trunc.idx')).toThrow(/trunc.idx: truncated: header declares 4x2x3 = 24 bytes of data, file has 19/);
    expect(() => parseIdx(good.subarray(0, 9), 'short.idx')).toThrow(/short.idx: truncated header/);
    expect(() => parseIdx(new Uint8Array([1, 2]), 'tiny.idx')).toThrow(/tiny.idx: too short/);
    const magic = good.slice(); magic[0] = 0x1f; magic[1] = 0x00;
    expect(() => parseIdx(magic, 'magic.idx')).toThrow(/magic.idx: bad magic 0x1f000803/);
    const type = good.slice(); type[2] = 0x0d;
    expect(() => parseIdx(type, 'float.idx')).toThrow(/element type 0xd is not unsigned byte/);
    expect(() => parseIdx(good, 'dims.idx', 1)).toThrow(/dims.idx: 3 dimensions, expected 1/);
    const extra = new Uint8Array(good.length + 3); extra.set(good);
    expect(() => parseIdx(extra, 'extra.idx')).toThrow(/3 bytes of trailing data/);
    // Absurd declared size: refused from the header, before allocating anything.
    const huge = good.slice(0, 16); new DataView(huge.buffer).setUint32(4, 0xffffffff, false);
    expect(() => parseIdx(huge, 'huge.idx')).toThrow(new RegExp(`huge.idx: declares .* more than the limit ${MAX_IDX_VALUES}`));
    const gz = new Uint8Array(gzipSync(good)); gz[gz.length - 10] ^= 0xff;
    expect(() => parseIdx(gz, 'bad.gz')).toThrow(/bad.gz: not a valid gzip file/);
    expect(() => parseIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), 'garbage.gz')).toThrow(/garbage.gz: not a valid gzip file/);
    const im = parseIdx(images(4), 'im'), lb3 = parseIdx(labels([1, 2, 3]), 'lb');
    expect(() => pairImagesLabels(im, lb3, 'im', 'lb')).toThrow(/lb: 3 labels for 4 images in im/);
    expect(() => pairImagesLabels(im, parseIdx(labels([1, 2, 10, 3]), 'lb'), 'im', 'lb')).toThrow(/lb: label 10 at index 2 is outside 0..9/);
  });

  it('a gzip bomb is refused, not inflated without bound', () => {
    const bomb = new Uint8Array(gzipSync(new Uint8Array(MAX_IDX_VALUES + 1024), { level: 1 }));
    expect(() => parseIdx(bomb, 'bomb.gz')).toThrow(/^bomb.gz: inflates to more than 268435520 bytes, the most it can hold$/);
  });
});
