#!/usr/bin/env node
// Writes an IDX data set as an image folder (train/ and test/, one subfolder
// per class), or checks that an image folder holds exactly an IDX data set's
// pixels and labels (as a set). Needs `npm run build`.
//
//   node scripts/make-image-folder.mjs --dataset fashion-mnist|mnist-sample|DIR --out DIR [--format png|jpeg] [--quality 90]
//   node scripts/make-image-folder.mjs --dataset fashion-mnist --verify DIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FASHION_MNIST, FASHION_MNIST_CLASSES } from '../dist/data/datasets.js';
import { loadImageFolder } from '../dist/data/folder.js';
import { readSplit, sampleDir } from '../dist/data/sample.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const spec = flag('--dataset', 'fashion-mnist'), format = flag('--format', 'png'), quality = Number(flag('--quality', '90'));
const dir = spec === 'fashion-mnist' ? FASHION_MNIST.systemDir : spec === 'mnist-sample' ? sampleDir() : spec;
const classes = spec === 'fashion-mnist' ? FASHION_MNIST_CLASSES.map((c) => c.replace(/\//g, '-')) : Array.from({ length: 10 }, (_, i) => String(i));
const splits = { train: readSplit(dir, 'train'), test: readSplit(dir, 't10k') };

const verify = flag('--verify');
if (verify) {
  // Both as sorted lists of "class name:pixels": equal lists are equal sets (with multiplicity).
  const f = await loadImageFolder(verify, { strict: true });
  const asList = (images, labels, count, names) => Array.from({ length: count }, (_, i) => `${names[labels[i]]}:${Buffer.from(images.subarray(i * 784, (i + 1) * 784)).toString('base64')}`).sort();
  for (const [name, s] of Object.entries(splits)) {
    const got = f[name];
    const a = asList(got.images, got.labels, got.count, f.classNames), b = asList(s.images, s.labels, s.count, classes);
    const same = a.length === b.length && a.every((x, i) => x === b[i]);
    console.log(`make-image-folder: ${verify} ${name}: ${got.count} images, ${same ? 'exactly' : 'NOT'} the IDX ${name} split's pixels and labels`);
    if (!same) process.exit(1);
  }
  process.exit(0);
}

const out = flag('--out');
if (!out || !['png', 'jpeg'].includes(format) || !(quality >= 1 && quality <= 100)) {
  console.error('usage: node scripts/make-image-folder.mjs --dataset NAME|DIR --out DIR [--format png|jpeg] [--quality 90] | --verify DIR');
  process.exit(2);
}
const t0 = performance.now();
for (const [name, s] of Object.entries(splits)) {
  for (const c of classes) mkdirSync(join(out, name, c), { recursive: true });
  const rgba = new Uint8Array(s.rows * s.cols * 4);
  for (let i = 0; i < s.count; i++) {
    for (let p = 0; p < s.rows * s.cols; p++) {
      const v = s.images[i * s.rows * s.cols + p];
      rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
      rgba[4 * p + 3] = 255;
    }
    let bytes;
    if (format === 'png') {
      const png = new PNG({ width: s.cols, height: s.rows });
      png.data.set(rgba);
      bytes = PNG.sync.write(png);
    } else {
      bytes = jpeg.encode({ data: rgba, width: s.cols, height: s.rows }, quality).data;
    }
    writeFileSync(join(out, name, classes[s.labels[i]], `${String(i).padStart(5, '0')}.${format === 'png' ? 'png' : 'jpg'}`), bytes);
  }
}
console.log(`make-image-folder: wrote ${splits.train.count + splits.test.count} ${format.toUpperCase()} files to ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
