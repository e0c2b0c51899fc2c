/**
 * Models and pictures the browser way, checked in Node: loadModel from a URL
 * (a local server: the model, a 404, oversized bodies, a foreign body), from
 * a Blob, bytes or a path; `indexeddb://` saving, loading, listing, replacing
 * and deleting (fake-indexeddb, the same API a browser has; the real one is
 * exercised by the demo's e2e in Chromium); loadPictures over a folder's
 * files gives exactly loadImageFolder's data set.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type Backend } from '../ts/backend/load.js';
import { loadImageFolder } from '../ts/data/folder.js';
import { loadPictures } from '../ts/data/pictures.js';
import { deleteModel, listModels } from '../ts/io/browser-storage.js';
import { loadModel, serializeModel } from '../ts/model-file.js';
import { loadModel as loadModelSync } from '../ts/model-file-node.js';
import { createPreset } from '../ts/models/presets.js';
import type { Sequential } from '../ts/model.js';
import { mnistSample } from './data.js';
import { writeColourFolder } from './support/pictures.js';
import { listenLocal } from './support/http.js';

let backend: Backend;
let model: Sequential;
let bytes: Uint8Array;
let server: Server;
let base = '';
const probe = mnistSample('t10k', 8).images;

beforeAll(async () => {
  backend = await initBackend({ backend: 'simd' });
  model = createPreset('lenet5-bn', { backend, seed: 5 }).model;
  bytes = serializeModel(model, { metadata: { classNames: ['a'] } });
  server = createServer((req, res) => {
    if (req.url === '/model.cnnw') { res.writeHead(200, { 'content-length': bytes.length }); res.end(bytes); return; }
    if (req.url === '/huge') { res.writeHead(200, { 'content-length': 10 * 2 ** 30 }); res.end(); return; }
    if (req.url === '/endless') {
      // no length declared: the body is refused as it grows past the limit
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      const write = () => { while (res.write(chunk)) { /* until the socket pushes back */ } };
      res.on('drain', write);
      write();
      req.socket.on('close', () => res.destroy());
      return;
    }
    if (req.url === '/page.html') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><p>not a model</p>'); return; }
    res.writeHead(404, 'Not Found');
    res.end();
  });
  base = await listenLocal(server);
});

afterAll(() => {
  model.dispose();
  server.close();
  server.closeAllConnections();
});

const samePredictions = (m: Sequential) => expect(Array.from(m.predict(probe))).toEqual(Array.from(model.predict(probe)));

describe('loadModel from anywhere', () => {
  it('a URL gives the model the server holds; 404, oversized and foreign bodies are named', async () => {
    const { model: m, metadata } = await loadModel(`${base}/model.cnnw`, { backend });
    samePredictions(m);
    expect(metadata.classNames).toEqual(['a']);
    m.dispose();
    await expect(loadModel(`${base}/missing.cnnw`, { backend })).rejects.toThrow(`${base}/missing.cnnw: HTTP 404 Not Found`);
    await expect(loadModel(`${base}/huge`, { backend })).rejects.toThrow(/\/huge: the server declares 10,737,418,240 bytes, more than the 268,435,456 a model file may have \(maxBytes\)/);
    await expect(loadModel(`${base}/endless`, { backend, maxBytes: 1_000_000 })).rejects.toThrow(/\/endless: more than the 1,000,000 bytes a model file may have/);
    await expect(loadModel(`${base}/page.html`, { backend })).rejects.toThrow(/page\.html: not a cnn-wasm model file/);
    await expect(loadModel('http://127.0.0.1:1/model.cnnw', { backend })).rejects.toThrow(/127\.0\.0\.1:1\/model\.cnnw: could not fetch the model/);
  });

  it('bytes, a Blob, a File and a path give the same model; the sync loader of cnn-wasm/node points URLs to the async one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-load-'));
    writeFileSync(join(dir, 'm.cnnw'), bytes);
    for (const src of [bytes, bytes.slice().buffer, new Blob([bytes.slice()]), new File([bytes.slice()], 'm.cnnw'), join(dir, 'm.cnnw'), `file://${join(dir, 'm.cnnw')}`]) {
      const { model: m } = await loadModel(src, { backend });
      samePredictions(m);
      m.dispose();
    }
    await expect(loadModel(new File([bytes.slice()], 'big.cnnw'), { backend, maxBytes: 100 })).rejects.toThrow(/big\.cnnw: [\d,]+ bytes, more than the 100 a model file may have/);
    await expect(loadModel(join(dir, 'm.cnnw'), { backend, maxBytes: 100 })).rejects.toThrow(/m\.cnnw: [\d,]+ bytes, more than the 100/);
    await expect(loadModel(join(dir, 'nope.cnnw'), { backend })).rejects.toThrow(/nope\.cnnw/);
    expect(() => loadModelSync(`${base}/model.cnnw`)).toThrow(/reads a file path; for a URL or indexeddb:\/\/, await loadModel from 'cnn-wasm'/);
    await expect(loadModel('downloads://m.cnnw')).rejects.toThrow(/downloads are saved, not loaded/);
  });
});

describe('indexeddb://', () => {
  it('without IndexedDB (plain Node) saving and loading say so; a download needs a page', async () => {
    await expect(model.save('indexeddb://m')).rejects.toThrow(/indexeddb:\/\/m: this environment has no IndexedDB/);
    await expect(loadModel('indexeddb://m')).rejects.toThrow(/indexeddb:\/\/m: this environment has no IndexedDB/);
    await expect(model.save('downloads://m.cnnw')).rejects.toThrow(/downloads:\/\/m\.cnnw: a download needs a page's document/);
    await expect(model.save('indexeddb://')).rejects.toThrow(/a model's name must be 1 to 256 characters/);
  });

  it('save, load, list, replace and delete (IndexedDB\'s API, from fake-indexeddb)', async () => {
    const fake = await import('fake-indexeddb');
    const g = globalThis as { indexedDB?: IDBFactory };
    g.indexedDB = new fake.IDBFactory();
    try {
      await expect(loadModel('indexeddb://digits', { backend })).rejects.toThrow('indexeddb://digits: no model is saved under this name (none is saved in this browser)');
      await model.save('indexeddb://digits', { metadata: { classNames: ['x', 'y'] } });
      const { model: m, metadata } = await loadModel('indexeddb://digits', { backend });
      samePredictions(m);
      expect(metadata.classNames).toEqual(['x', 'y']);
      // replacing: the newer model is what loads
      const other = createPreset('lenet5-bn', { backend, seed: 6 }).model;
      await other.save('indexeddb://digits');
      const back = (await loadModel('indexeddb://digits', { backend })).model;
      expect(Array.from(back.predict(probe))).toEqual(Array.from(other.predict(probe)));
      expect(Array.from(back.predict(probe))).not.toEqual(Array.from(m.predict(probe)));
      await m.save('indexeddb://second');
      expect((await listModels()).map((x) => [x.url, x.size > 1000])).toEqual([['indexeddb://digits', true], ['indexeddb://second', true]]);
      await expect(loadModel('indexeddb://third', { backend })).rejects.toThrow('indexeddb://third: no model is saved under this name (saved: digits, second)');
      expect(await deleteModel('indexeddb://second')).toBe(true);
      expect(await deleteModel('indexeddb://second')).toBe(false);
      expect((await listModels()).map((x) => x.name)).toEqual(['digits']);
      for (const x of [m, other, back]) x.dispose();
    } finally {
      delete g.indexedDB;
    }
  });
});

/** A folder's files as `<input webkitdirectory>` gives them: File objects with a path relative to the chosen folder's parent. */
function filesOf(root: string): File[] {
  const out: File[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, n.name);
      if (n.isDirectory()) walk(p);
      else out.push(Object.defineProperty(new File([readFileSync(p)], n.name), 'webkitRelativePath', { value: relative(join(root, '..'), p) }));
    }
  };
  walk(root);
  return out.reverse(); // the order files arrive in does not matter
}

describe('loadPictures', () => {
  it('a folder\'s files give exactly loadImageFolder\'s data set (pixels, labels, hold-out, statistics)', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-pictures-')), 'colours');
    writeColourFolder(root, 20);
    writeFileSync(join(root, 'red', 'notes.txt'), 'not an image, not read');
    writeFileSync(join(root, 'green', 'broken.png'), 'text in a .png');
    for (const o of [{ imageSize: 8, valSize: 0.25 }, { imageSize: [16, 20] as [number, number], channels: 1 as const }]) {
      const disk = await loadImageFolder(root, o), page = await loadPictures(filesOf(root), o);
      expect(page.classNames).toEqual(['blue', 'green', 'red']);
      expect(page.shape).toEqual(disk.shape);
      for (const k of ['train', 'val'] as const) {
        expect(page[k] === null).toBe(disk[k] === null);
        if (!disk[k]) continue;
        expect(Buffer.from(page[k]!.images).equals(Buffer.from(disk[k]!.images))).toBe(true);
        expect(Array.from(page[k]!.labels)).toEqual(Array.from(disk[k]!.labels));
      }
      expect(page.normalization).toEqual(disk.normalization);
      expect(page.skipped).toEqual([{ file: 'colours/green/broken.png', reason: 'unsupported image format (PNG, JPEG and PGM are supported)' }]);
    }
    await expect(loadPictures(filesOf(root), { strict: true })).rejects.toThrow('colours/green/broken.png: unsupported image format');
    // files with their paths (a dropped folder; a worker's copy, which has no webkitRelativePath) read alike
    const pathed = await loadPictures(filesOf(root).map((f) => ({ path: f.webkitRelativePath, file: new Blob([f]) })), { imageSize: 8 });
    expect(Buffer.from(pathed.train.images).equals(Buffer.from((await loadImageFolder(root, { imageSize: 8 })).train.images))).toBe(true);
  });

  it('large pictures need a chosen size: the first one past 256 a side is named, after reading it alone (folder and page alike)', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-large-')), 'photos');
    for (const [cls, w, h] of [['a', 300, 200], ['b', 40, 30]] as const) {
      mkdirSync(join(root, cls), { recursive: true });
      for (let i = 0; i < 3; i++) {
        const png = new PNG({ width: w, height: h });
        png.data.fill(100 + 50 * i);
        writeFileSync(join(root, cls, `${i}.png`), PNG.sync.write(png));
      }
    }
    let read = 0;
    await expect(loadImageFolder(root, { onProgress: (d) => { read = d; } })).rejects.toThrow(`loadImageFolder: ${join(root, 'a', '0.png')} is 300x200: with no imageSize, pictures are fitted to the first one's size, which must be at most 256x256; choose a size`);
    expect(read).toBe(1);
    await expect(loadPictures(filesOf(root))).rejects.toThrow(/^loadPictures: photos\/a\/0\.png is 300x200: with no imageSize/);
    // With a size, the same pictures load; the sizes they had are reported (disk, cache and page alike).
    const cache = mkdtempSync(join(tmpdir(), 'cnn-wasm-large-cache-'));
    const disk = await loadImageFolder(root, { imageSize: 32, cache });
    expect(disk.shape).toEqual([1, 32, 32]);
    expect(disk.pictureSizes).toEqual({ height: [30, 200], width: [40, 300] });
    const again = await loadImageFolder(root, { imageSize: 32, cache });
    expect(again.fromCache).toBe(true);
    expect(again.pictureSizes).toEqual(disk.pictureSizes);
    const page = await loadPictures(filesOf(root), { imageSize: [20, 30] });
    expect(page.shape).toEqual([1, 20, 30]);
    expect(page.pictureSizes).toEqual(disk.pictureSizes);
  });

  it('pictures per class: ImageData and PGM files; train/ and test/ folders; bad input is named', async () => {
    const solid = (v: number) => ({ width: 4, height: 4, data: new Uint8ClampedArray(64).map((_, i) => (i % 4 === 3 ? 255 : v)) }); // opaque gray
    const pgm = (v: number) => new File([`P2 4 4 255 ${Array(16).fill(v).join(' ')}`], `g${v}.pgm`);
    const set = await loadPictures({ dark: [solid(10), pgm(20)], light: [solid(240), pgm(230)] });
    expect(set.classNames).toEqual(['dark', 'light']);
    expect(set.shape).toEqual([1, 4, 4]);
    expect(Array.from(set.train.images.subarray(0, 16 * 4).filter((_, i) => i % 16 === 0))).toEqual([10, 20, 240, 230]);
    const split = await loadPictures({ train: { a: [solid(1), solid(2)], b: [solid(200)] }, test: { b: [solid(201)] } });
    expect([split.train.count, split.test!.count, Array.from(split.test!.labels)]).toEqual([3, 1, [1]]);
    const tree = await loadPictures(filesOf((() => {
      const r = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-pictures-')), 'split');
      writeColourFolder(join(r, 'train'), 3);
      writeColourFolder(join(r, 'test'), 2);
      return r;
    })()));
    expect([tree.train.count, tree.test!.count, tree.classNames]).toEqual([9, 6, ['blue', 'green', 'red']]);
    await expect(loadPictures([new File(['x'], 'loose.png')])).rejects.toThrow(/loose\.png is not in a class folder; choose a folder holding one subfolder of images per class/);
    await expect(loadPictures({ only: [solid(1)] })).rejects.toThrow(/only one class \(only\); a classifier needs at least two classes/);
    await expect(loadPictures({ train: { a: [solid(1)], b: [solid(2)] }, test: { c: [solid(3)] } })).rejects.toThrow(/test class c not among the training classes \(a, b\)/);
    await expect(loadPictures({ a: [solid(1)], b: [42 as never] }, { strict: true })).rejects.toThrow(/b\/0: not a picture \(expected a File or Blob, ImageBitmap/);
    await expect(loadPictures({ a: [solid(1)], b: [new File([new Uint8Array(0)], 'e.png')] }, { strict: true })).rejects.toThrow(/b\/e\.png: unsupported image format/);
    const bigPng = Buffer.from(PNG.sync.write(new PNG({ width: 1, height: 1 })));
    bigPng.writeUInt32BE(50_000, 16);
    await expect(loadPictures({ a: [solid(1)], b: [new File([bigPng], 'huge.png')] }, { strict: true })).rejects.toThrow(/b\/huge\.png: PNG is 50000x1, larger than the 4096x4096 limit/);
    await expect(loadPictures({ a: [solid(1)], b: [solid(2)] }, { imageSize: 0 })).rejects.toThrow(/loadPictures: imageSize must be integers from 1 to 4,096/);
  });
});
