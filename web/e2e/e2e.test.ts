/**
 * The built demo page in Debian's Chromium (playwright-core, never a downloaded
 * browser): loads without console errors, trains to > 90% held-out accuracy,
 * predicts a drawn digit, saves a screenshot, and computes the same weights hash
 * as Node for the same seed, backend and steps.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../ts/backend/load.js';
import { loadImageFolder } from '../../ts/data/folder.js';
import { readSplit, sampleDir } from '../../ts/data/sample.js';
import { withExifOrientation, withPngExif, writeColourFolder } from '../../test/support/pictures.js';
import { decodeRgba } from '../../ts/image/decode.js';
import { prepareImage } from '../../ts/image/prepare.js';
import { loadModel } from '../../ts/model-file-node.js';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { weightsHash } from '../src/shared.js';
import { listenLocal } from '../../test/support/http.js';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const shots = fileURLToPath(new URL('./screenshots/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.gz': 'application/gzip' };
let server: Server;
let browser: Browser;
let page: Page;
let base = '';
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('web/dist is missing: run `npm run web:build` (npm run test:e2e does)');
  server = createServer((req, res) => {
    // Under /plain/ the same files come without the isolation headers (the fallback test).
    const plain = (req.url ?? '').startsWith('/plain/');
    const path = normalize(join(dist, decodeURIComponent((req.url ?? '/').replace(/^\/plain\//, '/').split('?')[0])));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dist) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      res.end();
      return;
    }
    // Cross-origin isolated, as the demo's dev and preview servers serve it: SharedArrayBuffer for workers.
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      ...(plain ? {} : { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }),
    });
    createReadStream(file).pipe(res);
  });
  base = `${await listenLocal(server)}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

/** Draws a "1" (one vertical stroke) on the pad and waits for its prediction. */
async function drawOne(): Promise<void> {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.15 + 0.07 * i));
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelector('#prediction')?.getAttribute('data-digit') !== null, null, { timeout: 10_000 });
}

it('loads with no console errors and uses the relaxed build (Chromium runs relaxed SIMD)', async () => {
  expect(await page.textContent('#status')).toMatch(/ready: lenet5-bn on the relaxed backend; 9,000 training and 1,000 held-out digits/);
  expect(consoleErrors).toEqual([]);
});

it('trains in a worker to > 90% held-out accuracy while the page stays responsive', async () => {
  await page.fill('#epochs', '1');
  await page.click('#train');
  // The page answers while the worker trains.
  const t0 = Date.now();
  expect(await page.evaluate(() => 1 + 1)).toBe(2);
  expect(Date.now() - t0).toBeLessThan(1000);
  await page.waitForSelector('body[data-trained="true"]', { timeout: 120_000 });
  const acc = Number(await page.getAttribute('#test-acc', 'data-value'));
  expect(acc).toBeGreaterThan(0.9);
  expect(Number((await page.textContent('#ips'))!.replace(/,/g, ''))).toBeGreaterThan(100);
  expect(await page.textContent('#ms-per-image')).toMatch(/^\d+\.\d{3} ms \(forward \+ backward \+ update\)$/);
  // the forward pass alone, timed on the held-out pass: a positive time below the whole step's
  const step = Number((await page.textContent('#ms-per-image'))!.split(' ')[0]);
  const fwd = Number((await page.textContent('#ms-forward'))!.split(' ')[0]);
  expect(fwd).toBeGreaterThan(0);
  expect(fwd).toBeLessThan(step);
});

it('shows the held-out view while it trains: a grid of guesses (wrong ones marked), a confusion matrix, the worst mistakes, gradient norms', async () => {
  // Refreshed during the epoch, not only at its end: at least two updates in one epoch.
  expect(Number(await page.getAttribute('#grid', 'data-updates'))).toBeGreaterThanOrEqual(2);
  expect(await page.locator('#grid figure').count()).toBe(48);
  const wrong = await page.locator('#grid figure.wrong').count();
  const guesses = await page.locator('#grid figcaption').allTextContents();
  expect(guesses.every((g) => /^\d \d+%$/.test(g))).toBe(true);
  expect(wrong).toBeLessThan(48 * 0.2);
  const cells = await page.locator('#confusion td').allTextContents();
  expect(cells).toHaveLength(100);
  expect(cells.reduce((s, c) => s + (c ? Number(c) : 0), 0)).toBe(1000);
  expect(await page.locator('#mistakes figure').count()).toBeGreaterThan(0);
  expect((await page.locator('#mistakes figcaption').first().textContent())!).toMatch(/^a \d, seen as \d \(\d+%\)$/);
  expect(await page.locator('#grad-norms .grad').count()).toBe(5); // lenet5-bn: 3 conv and 2 dense kernels
  expect(await page.textContent('#heldout-note')).toMatch(/^after \d+ steps: \d+\.\d% of the 1,000 test digits right/);
});

it('a drawn stroke gets a prediction, probability bars and activation maps', async () => {
  await drawOne();
  expect(await page.getAttribute('#prediction', 'data-digit')).toBe('1');
  expect(await page.locator('#bars .bar').count()).toBe(10);
  expect(await page.locator('#insides canvas').count()).toBe(6 + 16 + 1 + 2); // conv1, conv2 maps; conv3 and the dense layers as rows
  expect(await page.locator('#filters canvas').count()).toBeGreaterThan(6);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'demo.png'), fullPage: true });
  expect(consoleErrors).toEqual([]);
});

it('"Load model" takes an ONNX file: a model trained in Node, exported, loaded in the page, classifies the drawn digit', async () => {
  const { createPreset } = await import('../../ts/models/presets.js');
  const { optimizerFromConfig } = await import('../../ts/optim/optimizer.js');
  const s = readSplit(sampleDir(), 'train');
  const { model, recipe } = createPreset('lenet5-bn', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
  await model.fit({ images: s.images, labels: s.labels, count: s.count }, { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128 });
  const file = join(shots, 'lenet5-bn.onnx');
  writeFileSync(file, model.toOnnx());
  model.dispose();
  await page.evaluate(() => { document.body.dataset.ready = 'false'; });
  await page.setInputFiles('#load', file);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  expect(await page.textContent('#status')).toMatch(/^ready: /);
  // the held-out view is the loaded model's (trained in Node on the sample), not the one it replaced
  await page.waitForFunction(() => document.querySelector('#heldout-note')?.textContent?.startsWith('as initialised or loaded'));
  expect(Number((await page.textContent('#heldout-note'))!.match(/: (\d+\.\d)%/)![1])).toBeGreaterThan(90);
  await page.click('#clear');
  expect(await page.getAttribute('#prediction', 'data-digit')).toBeNull(); // the prediction below is the loaded model's
  await drawOne();
  expect(await page.getAttribute('#prediction', 'data-digit')).toBe('1');
  expect(consoleErrors).toEqual([]);
}, 60_000);

it('the page is cross-origin isolated and offers the workers', async () => {
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  expect(await page.isHidden('#isolation')).toBe(true);
  expect(await page.locator('#workers option').count()).toBeGreaterThan(1);
});

it('the in-page benchmark times the relaxed, SIMD and scalar builds, and the workers on the relaxed build', async () => {
  expect(await page.inputValue('#workers')).toBe('2');
  await page.click('#bench');
  await page.waitForFunction(() => document.querySelector('#bench-result')?.textContent?.startsWith('training lenet5-bn:'), null, { timeout: 120_000 });
  const text = (await page.textContent('#bench-result'))!;
  const n = '([\\d,]+)', x = '(\\d+\\.\\d\\d)';
  const m = text.match(new RegExp(`^training lenet5-bn: relaxed SIMD \\(fused multiply-add\\) ${n} img/s, SIMD ${n} img/s, scalar ${n} img/s — relaxed is ${x}x SIMD, SIMD is ${x}x scalar; 2 workers are ${x}x one \\(relaxed build\\)$`));
  expect(m, text).not.toBeNull();
  const [relaxed, simd, scalar] = m!.slice(1, 4).map((v) => Number(v.replace(/,/g, '')));
  expect(Math.min(relaxed, simd, scalar)).toBeGreaterThan(0);
  // The printed ratios are those of the printed rates (rounding aside).
  expect(Number(m![4])).toBeCloseTo(relaxed / simd, 1);
  expect(Number(m![5])).toBeCloseTo(simd / scalar, 1);
  expect(Number(m![6])).toBeGreaterThan(0);
  expect(consoleErrors).toEqual([]);
}, 150_000);

it('without cross-origin isolation the page says so in one line and offers 1 worker', async () => {
  const plain = await browser.newPage();
  await plain.goto(`${base}plain/`);
  await plain.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  expect(await plain.evaluate(() => crossOriginIsolated)).toBe(false);
  expect(await plain.textContent('#isolation')).toMatch(/^This page is not cross-origin isolated \(no COOP\/COEP headers\), so it has no SharedArrayBuffer: training runs on 1 worker\.$/);
  expect(await plain.locator('#workers option').allTextContents()).toEqual(['1']);
  await plain.close();
});

it('2 workers in Chromium give the weights hash of 1 worker in Node (relaxed and SIMD builds)', async () => {
  const s = readSplit(sampleDir(), 'train');
  const train = { images: s.images, labels: s.labels, count: s.count };
  for (const backend of ['relaxed', 'simd'] as const) {
    const node = await weightsHash(await initBackend({ backend }), 'lenet5-bn', train, 4, 6);
    const chromiumHash = await page.evaluate(([b]) => (window as unknown as { cnnWasmHash: (b: string, m: string, s: number, n: number, w: number) => Promise<string> }).cnnWasmHash(b, 'lenet5-bn', 4, 6, 2), [backend]);
    expect(chromiumHash, backend).toBe(node);
  }
  expect(consoleErrors).toEqual([]);
}, 60_000);

it('the same seed and backend give the same weights hash in Chromium as in Node, for each build; relaxed\'s differs from SIMD\'s', async () => {
  const s = readSplit(sampleDir(), 'train');
  const train = { images: s.images, labels: s.labels, count: s.count };
  const seen: Record<string, string> = {};
  for (const backend of ['relaxed', 'simd', 'scalar'] as const) {
    const node = await weightsHash(await initBackend({ backend }), 'lenet5-bn', train, 3, 5);
    const chromiumHash = await page.evaluate(([b]) => (window as unknown as { cnnWasmHash: (b: string, m: string, s: number, n: number) => Promise<string> }).cnnWasmHash(b, 'lenet5-bn', 3, 5), [backend]);
    expect(chromiumHash).toMatch(/^[0-9a-f]{64}$/);
    expect(chromiumHash).toBe(node);
    seen[backend] = node;
  }
  // fused multiply-adds round once where the SIMD build rounds twice: other bits, the same on both engines of this machine
  expect(seen.relaxed).not.toBe(seen.simd);
  expect(consoleErrors).toEqual([]);
});

it('the layout fits 1280x800 and a phone-width screen', async () => {
  // trained, so the screenshots show curves and a held-out view (earlier tests loaded other models)
  await page.fill('#epochs', '1');
  await page.evaluate(() => { document.body.dataset.trained = 'false'; });
  await page.click('#train');
  await page.waitForSelector('body[data-trained="true"]', { timeout: 120_000 });
  for (const [w, h, name] of [[1280, 800, 'desktop'], [390, 844, 'phone']] as const) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(100);
    const overflow = await page.evaluate(() => {
      const cw = document.documentElement.clientWidth;
      const wide = Array.from(document.querySelectorAll('body *')).filter((e) => e.getBoundingClientRect().right > cw + 1).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`).slice(0, 5);
      return { by: document.documentElement.scrollWidth - cw, wide };
    });
    expect(overflow.by, `${name}: horizontal overflow by ${overflow.by}px: ${overflow.wide.join(', ')}`).toBeLessThanOrEqual(1);
    // no empty half-page beside the long insides panel: it takes the whole row
    const widths = await page.evaluate(() => [document.querySelector('main')!.clientWidth, document.getElementById('insides-panel')!.getBoundingClientRect().width]);
    expect(widths[1], `${name}: the insides panel is ${widths[1]}px of ${widths[0]}px`).toBeGreaterThan(widths[0] * 0.9);
    await page.screenshot({ path: join(shots, `demo-${name}.png`), fullPage: name === 'phone' });
  }
  await page.setViewportSize({ width: 1400, height: 1000 });
});

it('"Train on your own images": a chosen folder is prepared as loadImageFolder prepares it, trains, is saved in IndexedDB and, after a reload, loads back with the same predictions', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-e2e-own-')), 'colours');
  writeColourFolder(root, 30);
  const disk = await loadImageFolder(root, { imageSize: 32, valSize: 0.2 });
  const hash = createHash('sha256').update(disk.train.images).update(Uint8Array.from(disk.train.labels)).digest('hex');
  await page.fill('#own-size', '32');
  await page.fill('#own-val', '0.2');
  await page.setInputFiles('#own-folder', root);
  await page.waitForSelector('body[data-own-pictures="true"]', { timeout: 30_000 });
  expect(await page.textContent('#own-status')).toBe('90 pictures in 3 classes (blue, green, red), as 3x32x32: 72 to train on, 18 held out (hold-out)');
  expect(await page.getAttribute('#own-status', 'data-pixels-hash')).toBe(hash); // the page's pixels are the CLI's, byte for byte
  await page.fill('#own-epochs', '6');
  await page.click('#own-train');
  await page.waitForSelector('body[data-own-trained="true"]', { timeout: 120_000 });
  expect(Number(await page.getAttribute('#own-status', 'data-accuracy'))).toBeGreaterThan(0.9);
  expect(await page.locator('#own-confusion tr').first().locator('th').allTextContents()).toEqual(['', 'blue', 'green', 'red', 'accuracy']);
  const cells = await page.locator('#own-confusion td').allTextContents();
  expect(cells.filter((_, i) => i % 4 !== 3).reduce((t, c) => t + (c ? Number(c) : 0), 0)).toBe(18);
  await page.fill('#own-name', 'colours');
  await page.click('#own-save');
  await page.waitForSelector('body[data-own-saved="true"]', { timeout: 30_000 });
  expect(await page.textContent('#own-status')).toMatch(/^saved as indexeddb:\/\/colours \([\d,]+ bytes\)/);
  const classify = async () => {
    await page.setInputFiles('#own-classify', join(root, 'red', '007.png'));
    await page.waitForFunction(() => document.querySelector('#own-prediction')?.getAttribute('data-probs'), null, { timeout: 30_000 });
    return { label: await page.getAttribute('#own-prediction', 'data-label'), probs: await page.getAttribute('#own-prediction', 'data-probs') };
  };
  const before = await classify();
  expect(before.label).toBe('red');
  // A photo 8 times the input's size is read at 1/8 scale to be classified, as training read such pictures:
  // the page's probabilities are Node's for the downloaded model and the library's decode, bit for bit.
  const big = 320, bigRgba = new Uint8Array(big * big * 4);
  for (let p = 0; p < big * big; p++) bigRgba.set([200 + (p % 40), (p >> 9) % 60, 30 + (p % 7) * 5, 255], 4 * p);
  const photo = join(root, '..', 'photo.jpg');
  const photoBytes = new Uint8Array(jpeg.encode({ data: bigRgba, width: big, height: big }, 90).data);
  writeFileSync(photo, photoBytes);
  await page.setInputFiles('#own-classify', photo);
  await page.waitForFunction(() => document.querySelector('#own-prediction')?.getAttribute('data-probs'), null, { timeout: 30_000 });
  const inPage = (await page.getAttribute('#own-prediction', 'data-probs'))!.split(',').map(Number);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#own-download')]);
  const saved = join(root, '..', 'downloaded.cnnw');
  await download.saveAs(saved);
  const { model: fromPage } = loadModel(saved, { backend: await initBackend({ backend: 'relaxed' }) });
  const pixels = prepareImage(decodeRgba(photoBytes, 'photo.jpg', { fitTo: [32, 32] }), fromPage.inputShape, 'photo.jpg', 'resize');
  expect(inPage).toEqual(Array.from(fromPage.predict(pixels)));
  fromPage.dispose();
  await page.screenshot({ path: join(shots, 'own-images.png'), fullPage: true });
  // a new page load: the model comes back from IndexedDB with its class names and gives the same probabilities, bit for bit
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  await page.fill('#own-name', 'colours');
  await page.click('#own-load');
  await page.waitForSelector('body[data-own-loaded="true"]', { timeout: 30_000 });
  expect(await page.textContent('#own-status')).toBe('loaded indexeddb://colours: 3 classes (blue, green, red), input 3x32x32; classify a picture');
  expect(await classify()).toEqual(before);
  await page.fill('#own-name', 'nope');
  await page.click('#own-load');
  await page.waitForFunction(() => document.body.dataset.ownError);
  expect(await page.textContent('#own-status')).toBe('error: indexeddb://nope: no model is saved under this name (saved: colours)');
  expect(consoleErrors).toEqual([]);
}, 180_000);

/** Drags files or folders from the disk onto the drop zone, as a user's file manager does (Chromium's own drag events, real directory entries). */
async function dropOnZone(paths: string[]): Promise<void> {
  await page.locator('#own-drop').scrollIntoViewIfNeeded();
  const box = (await page.locator('#own-drop').boundingBox())!;
  const cdp = await page.context().newCDPSession(page);
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2, data: { items: [], files: paths, dragOperationsMask: 1 } };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const) await cdp.send('Input.dispatchDragEvent', { type, ...at });
  await cdp.detach();
}

it('a folder dragged onto the drop zone is read as the chosen folder is, and so are its class folders dragged on their own; fit crop as in Node', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-e2e-drop-')), 'colours');
  writeColourFolder(root, 10);
  writeFileSync(join(root, 'red', 'notes.txt'), 'not a picture');
  const disk = await loadImageFolder(root, { imageSize: 32, valSize: 0.2 });
  const hash = createHash('sha256').update(disk.train.images).update(Uint8Array.from(disk.train.labels)).digest('hex');
  await page.fill('#own-size', '32');
  await page.fill('#own-val', '0.2');
  for (const paths of [[root], ['red', 'green', 'blue'].map((c) => join(root, c))]) {
    await page.evaluate(() => { document.body.dataset.ownPictures = 'false'; });
    await dropOnZone(paths);
    await page.waitForSelector('body[data-own-pictures="true"]', { timeout: 30_000 });
    expect(await page.textContent('#own-status'), paths.join(' ')).toBe('30 pictures in 3 classes (blue, green, red), as 3x32x32: 24 to train on, 6 held out (hold-out)');
    expect(await page.getAttribute('#own-status', 'data-pixels-hash'), paths.join(' ')).toBe(hash);
  }
  // fit 'crop': the pictures (12x10) lose their edges to a square, as loadImageFolder's fit 'crop' cuts them
  const cropped = await loadImageFolder(root, { imageSize: 32, valSize: 0.2, fit: 'crop' });
  const cropHash = createHash('sha256').update(cropped.train.images).update(Uint8Array.from(cropped.train.labels)).digest('hex');
  expect(cropHash).not.toBe(hash);
  await page.selectOption('#own-fit', 'crop');
  await page.evaluate(() => { document.body.dataset.ownPictures = 'false'; });
  await dropOnZone([root]);
  await page.waitForSelector('body[data-own-pictures="true"]', { timeout: 30_000 });
  expect(await page.getAttribute('#own-status', 'data-pixels-hash')).toBe(cropHash);
  await page.selectOption('#own-fit', 'resize');
  // a picture dropped without its class folder is named, and nothing is read
  await page.evaluate(() => { delete document.body.dataset.ownError; });
  await dropOnZone([join(root, 'red', '001.png')]);
  await page.waitForFunction(() => document.body.dataset.ownError);
  expect(await page.textContent('#own-status')).toMatch(/^error: .*001\.png is not in a class folder/);
  expect(consoleErrors).toEqual([]);
});

it('pictures as files, ImageBitmaps, <img>, <canvas> and ImageData become the same data set in the page as the folder in Node', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'cnn-wasm-e2e-kinds-')), 'colours');
  writeColourFolder(root, 4);
  const disk = await loadImageFolder(root, { imageSize: 32 });
  const hash = createHash('sha256').update(disk.train.images).update(Uint8Array.from(disk.train.labels)).digest('hex');
  const byClass: Record<string, { name: string; bytes: number[] }[]> = {};
  for (const name of disk.classNames) byClass[name] = readdirSync(join(root, name)).sort().map((f) => ({ name: f, bytes: [...readFileSync(join(root, name, f))] }));
  const hashes = await page.evaluate(async (given) => {
    const files = Object.fromEntries(Object.entries(given).map(([k, list]) => [k, list.map((f) => new File([new Uint8Array(f.bytes)], f.name, { type: 'image/png' }))]));
    return (window as unknown as { cnnWasmPictureKinds: (b: Record<string, File[]>) => Promise<Record<string, string>> }).cnnWasmPictureKinds(files);
  }, byClass);
  expect(hashes).toEqual({ file: hash, bitmap: hash, img: hash, canvas: hash, imageData: hash });
  expect(consoleErrors).toEqual([]);
});

/** A picture file's pixels as the library reads them in the page (`fitTo`: the size it is to be shrunk to). */
const pixelsInPage = (bytes: Uint8Array, name: string, fitTo?: [number, number]) => page.evaluate(([b, n, f]) =>
  (window as unknown as { cnnWasmPixelsOf: (b: number[], n: string, f?: [number, number]) => Promise<{ width: number; height: number; data: number[] }> }).cnnWasmPixelsOf(b, n, f ?? undefined),
[[...bytes], name, fitTo ?? null] as [number[], string, [number, number] | null]);

it("a PNG's eXIf orientation: the page's decoder and Node's give the same bytes (before the image data it turns the picture, after it not)", async () => {
  const png = new PNG({ width: 6, height: 4 });
  for (let p = 0; p < 24; p++) png.data.set([p * 10, 255 - p * 10, p * 3, 255], 4 * p);
  const plain = new Uint8Array(PNG.sync.write(png));
  for (const [o, after] of [[6, false], [3, false], [8, false], [6, true]] as const) {
    const bytes = withPngExif(plain, o, after), node = decodeRgba(bytes, 'p.png');
    const inPage = await pixelsInPage(bytes, 'p.png');
    expect([inPage.width, inPage.height], `orientation ${o}${after ? ' after IDAT' : ''}`).toEqual([node.width, node.height]);
    expect(Buffer.from(inPage.data).equals(Buffer.from(node.data)), `orientation ${o}${after ? ' after IDAT' : ''}`).toBe(true);
  }
  expect(consoleErrors).toEqual([]);
});

it('a large JPEG to be shrunk is read at 1/8 scale by the library in the page too: the same bytes as in Node', async () => {
  const w = 320, h = 240, rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) rgba.set([p % 251, (p >> 3) % 240, (p * 7) % 256, 255], 4 * p);
  const bytes = withExifOrientation(new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, 85).data), 6);
  const node = decodeRgba(bytes, 'big.jpg', { fitTo: [32, 24] });
  expect([node.width, node.height]).toEqual([30, 40]);
  const inPage = await pixelsInPage(bytes, 'big.jpg', [32, 24]);
  expect([inPage.width, inPage.height]).toEqual([30, 40]);
  expect(Buffer.from(inPage.data).equals(Buffer.from(node.data))).toBe(true);
  expect(consoleErrors).toEqual([]);
});

it('a phone photo (a JPEG with an EXIF orientation) reads upright in the page, as in Node', async () => {
  // A gray gradient 6 wide and 4 high, stored as a camera held sideways stores it (orientation 6: turn 90° clockwise to show).
  const w = 6, h = 4, rgba = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) rgba.set([p * 10, p * 10, p * 10, 255], 4 * p);
  for (const o of [3, 6, 8]) {
    const bytes = withExifOrientation(new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, 100).data), o);
    const node = decodeRgba(bytes, `o${o}.jpg`);
    const page_ = await pixelsInPage(bytes, `o${o}.jpg`);
    expect([page_.width, page_.height], `orientation ${o}`).toEqual([node.width, node.height]);
    // Two JPEG decoders (the browser's and jpeg-js) round alike within a few levels; a turn the other way would move the gradient by 40 or more.
    const diff = Math.max(...page_.data.map((v, i) => Math.abs(v - node.data[i])));
    expect(diff, `orientation ${o}`).toBeLessThanOrEqual(6);
  }
  expect(consoleErrors).toEqual([]);
});
