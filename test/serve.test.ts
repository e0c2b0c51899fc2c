/** The batching predictor and `cnn-wasm serve`: bit-identical batches, every bad request refused, graceful shutdown. */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { saveModel } from '../ts/model-file-node.js';
import { createPreset } from '../ts/models/presets.js';
import { optimizerFromConfig } from '../ts/optim/optimizer.js';
import { createPredictor, type Predictor } from '../ts/serve/predictor.js';
import { startServer } from '../ts/serve/http.js';
import { mnistSample } from './data.js';
import { conv2d, dense, flatten } from '../ts/layers/index.js';
import { sequential } from '../ts/model.js';

const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-serve-'));
const modelPath = join(dir, 'digits.cnnw');
const test = mnistSample('t10k', 200);
const digit = (i: number) => Array.from(test.images.subarray(i * 784, (i + 1) * 784));
let reference: Float32Array;

beforeAll(async () => {
  const be = await initBackend(); // as the predictor and the server choose ('auto')
  const { model, recipe } = createPreset('lenet5-bn', { backend: be, seed: 1 });
  await model.fit(mnistSample('train', 512), { optimizer: optimizerFromConfig(recipe.optimizer), batchSize: 128 });
  saveModel(model, modelPath, { metadata: { classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] } });
  reference = model.predict(test.images);
  model.dispose();
}, 60_000);

describe('createPredictor', () => {
  it('batches concurrent requests and gives each the bits of model.predict on its own input', async () => {
    for (const workers of [1, 2]) {
      const p = await createPredictor(modelPath, { workers, maxBatch: 16, maxDelayMs: 5 });
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => p.predict(test.images.subarray(i * 784, (i + 1) * 784))));
      results.forEach((r, i) => {
        expect(new Float32Array(r.probabilities)).toEqual(reference.subarray(i * 10, (i + 1) * 10));
        expect(r.name).toBe(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][r.class]);
      });
      const s = p.stats();
      expect(s.requests).toBe(100);
      expect(s.batches).toBeLessThan(20); // batched: at most 16 a batch, so at least 7
      expect(s.meanBatchSize).toBeGreaterThan(5);
      await p.close();
      await expect(p.predict(test.images.subarray(0, 784))).rejects.toThrow(/closed/);
    }
  }, 60_000);

  it('close() answers what is queued at once, without waiting for the batch to fill', async () => {
    // A fill time of a day: if close() waited for it, this test would never end.
    const p = await createPredictor(modelPath, { maxBatch: 64, maxDelayMs: 86_400_000 });
    const pending = Array.from({ length: 5 }, (_, i) => p.predict(test.images.subarray(i * 784, (i + 1) * 784)));
    await p.close();
    const results = await Promise.all(pending);
    results.forEach((r, i) => expect(new Float32Array(r.probabilities)).toEqual(reference.subarray(i * 10, (i + 1) * 10)));
  });

  it('refuses a wrong input and a full queue', async () => {
    const p = await createPredictor(modelPath, { maxBatch: 4, maxDelayMs: 50, maxQueue: 3 });
    await expect(p.predict(new Uint8Array(100))).rejects.toThrow(/100 values, the model takes 784/);
    const all = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => p.predict(test.images.subarray(i * 784, (i + 1) * 784))));
    expect(all.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message)).toContain('predictor: 3 requests are waiting already (maxQueue 3)');
    expect(all.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(3);
    await p.close();
  });
});

describe('serve: bad requests never hurt the service', () => {
  let predictor: Predictor;
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    predictor = await createPredictor(modelPath, { workers: 2, maxBatch: 32 });
    srv = await startServer(predictor, { port: 0, requestTimeoutMs: 1500, maxBodyBytes: 1 << 20 });
  });
  afterAll(async () => srv.close());

  const post = (body: BodyInit, type = 'application/json') => fetch(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': type }, body });
  const good = async () => {
    const r = await post(JSON.stringify({ pixels: digit(3) }));
    expect(r.status).toBe(200);
    const j = await r.json();
    expect(new Float32Array(j.probabilities)).toEqual(reference.subarray(30, 40));
  };

  it('answers JSON pixels, a JSON batch, and a PNG like cnn-wasm predict', async () => {
    await good();
    const b = await (await post(JSON.stringify({ batch: [digit(0), digit(1), digit(2)] }))).json();
    expect(b.predictions.map((x: { probabilities: number[] }) => Array.from(new Float32Array(x.probabilities)))).toEqual([0, 1, 2].map((i) => Array.from(reference.subarray(i * 10, i * 10 + 10))));
    const png = new PNG({ width: 28, height: 28 });
    for (let i = 0; i < 784; i++) { const v = 255 - test.images[3 * 784 + i]; png.data.set([v, v, v, 255], 4 * i); } // dark on light
    const r = await post(new Uint8Array(PNG.sync.write(png)), 'image/png');
    expect(r.status).toBe(200);
    expect((await r.json()).class).toBe(test.labels[3]);
    // Raw u8 pixels (application/octet-stream): one example, or several back to back; a PNG sent so is still decoded.
    const raw1 = await (await post(test.images.slice(3 * 784, 4 * 784), 'application/octet-stream')).json();
    expect(new Float32Array(raw1.probabilities)).toEqual(reference.subarray(30, 40));
    const raw3 = await (await post(test.images.slice(0, 3 * 784), 'application/octet-stream')).json();
    expect(raw3.predictions.map((x: { probabilities: number[] }) => Array.from(new Float32Array(x.probabilities)))).toEqual([0, 1, 2].map((i) => Array.from(reference.subarray(i * 10, i * 10 + 10))));
    const rp = await post(new Uint8Array(PNG.sync.write(png)), 'application/octet-stream');
    expect((await rp.json()).class).toBe(test.labels[3]);
    const h = await (await fetch(`${srv.url}/health`)).json();
    expect(h).toMatchObject({ status: 'ok' });
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    expect(m).toMatch(/^cnnwasm_http_requests_total\{route="\/predict",code="200"\} \d+$/m);
    expect(m).toMatch(/^cnnwasm_predict_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(m).toMatch(/^cnnwasm_batch_size_count \d+$/m);
  });

  it.each([
    ['wrong content type', 415, () => post('hello', 'text/plain'), /content type 'text\/plain' is not accepted/],
    ['malformed JSON', 400, () => post('{"pixels": [1, 2'), /body is not valid JSON/],
    ['wrong pixel count', 400, () => post(JSON.stringify({ pixels: [1, 2, 3] })), /pixels has 3 values, the model takes 784/],
    ['NaN', 400, () => post('{"pixels": [NaN]}'), /not valid JSON/],
    ['a value out of range', 400, () => post(JSON.stringify({ pixels: Array.from({ length: 784 }, (_, i) => (i === 5 ? 300 : 0)) })), /pixels\[5\] is 300, not a number in 0..255/],
    ['a string pixel', 400, () => post(JSON.stringify({ pixels: Array.from({ length: 784 }, (_, i) => (i === 7 ? 'x' : 0)) })), /pixels\[7\] is "x"/],
    ['no pixels or batch', 400, () => post(JSON.stringify({ image: [] })), /body must have "pixels"/],
    ['an empty batch', 400, () => post(JSON.stringify({ batch: [] })), /"batch" must be a non-empty array/],
    ['raw pixels that are not whole examples', 400, () => post(new Uint8Array(785), 'application/octet-stream'), /a raw pixel body of 785 bytes is not whole examples of 784 bytes \(1x28x28 pixels, one byte each\), nor a PNG, JPEG or PGM/],
    ['an empty raw body', 400, () => post(new Uint8Array(0), 'application/octet-stream'), /a raw pixel body of 0 bytes/],
    ['more raw examples than the batch limit', 413, () => post(new Uint8Array(257 * 784), 'application/octet-stream'), /a raw pixel body of 257 examples is more than the limit of 256/],
    ['a 50 MB body', 413, () => post(new Uint8Array(50 * 1024 * 1024)), /request body of 52428800 bytes is larger than the limit of 1048576/],
    ['a GET on /predict', 405, () => fetch(`${srv.url}/predict`), /use POST \/predict/],
    ['an unknown route', 404, () => fetch(`${srv.url}/admin`), /no route \/admin/],
  ] as const)('%s -> %i with a one-line JSON error, and the next request succeeds', async (_what, status, send, msg) => {
    const r = await send();
    expect(r.status).toBe(status);
    const text = await r.text();
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(text).error).toMatch(msg);
    await good();
  });

  it('a PNG bomb is refused before it is decoded', async () => {
    const bytes = new Uint8Array(PNG.sync.write(new PNG({ width: 1, height: 1 })));
    new DataView(bytes.buffer).setUint32(16, 100_000, false);
    new DataView(bytes.buffer).setUint32(20, 100_000, false);
    const r = await post(bytes, 'image/png');
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatch(/PNG is 100000x100000, larger than the 1024x1024 limit/);
    await good();
  });

  it('a body streamed past the limit without a length is cut off with 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      const pump = () => { while (sent < 8 && req.write(chunk)) sent++; if (sent < 8) req.once('drain', () => { sent++; pump(); }); else req.end(); };
      pump();
    });
    expect(status).toBe(413);
    await good();
  });

  it('a slow-loris client is cut off by the request timeout while others are served', async () => {
    const sock = connect(Number(new URL(srv.url).port), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('POST /predict HTTP/1.1\r\nHost: x\r\n'); // and never finishes the headers
    const closed = new Promise<void>((r) => { sock.on('close', () => r()); sock.on('error', () => {}); });
    const tick = setInterval(() => sock.write('X'), 100); // a byte now and then: never idle
    await good(); // others are served meanwhile
    await closed; // cut off: the test's own timeout bounds the wait, no clock is raced
    clearInterval(tick);
    await good();
  }, 15_000);
});

describe('serve: a model of your own pictures', () => {
  it('prepares PNG and JPEG bodies as the model file says its training did (3x16x16, resized), as cnn-wasm predict does', async () => {
    // One build everywhere (this process and the CLI's, which on Node 20 has no relaxed SIMD): the same bits.
    const be = await initBackend({ backend: 'simd' });
    const m = sequential([conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), flatten(), dense({ units: 3 })], { inputShape: [3, 16, 16], classes: 3, seed: 5, backend: be });
    const path = join(dir, 'pictures.cnnw');
    saveModel(m, path, { metadata: { classNames: ['red', 'green', 'blue'], fit: 'resize' } });
    // An opaque 16x16 RGB picture is the model's input as it is: its planes, built here by hand.
    const png = new PNG({ width: 16, height: 16 }), planes = new Uint8Array(3 * 256);
    for (let i = 0; i < 256; i++) {
      const rgb = [(i * 7) & 255, (i * 13 + 50) & 255, 255 - i];
      png.data.set([...rgb, 255], 4 * i);
      rgb.forEach((v, c) => { planes[c * 256 + i] = v; });
    }
    const reference = m.predict(planes);
    m.dispose();
    // A 40x30 JPEG: resized, as `cnn-wasm predict` prepares it.
    const rgba = new Uint8Array(40 * 30 * 4);
    for (let i = 0; i < 1200; i++) rgba.set([(i * 3) & 255, (i >> 2) & 255, 128, 255], 4 * i);
    const jpg = jpeg.encode({ data: rgba, width: 40, height: 30 }, 90).data;
    writeFileSync(join(dir, 'p.jpg'), jpg);
    const cli = spawnSync(process.execPath, [new URL('../bin/cnn-wasm.js', import.meta.url).pathname, 'predict', path, join(dir, 'p.jpg'), '--json', '--top', '3', '--backend', 'simd'], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    const byClass = (ps: { class: number; probability: number }[]) => [0, 1, 2].map((c) => ps.find((p) => p.class === c)!.probability);
    const p = await createPredictor(path, { backend: 'simd' });
    const srv = await startServer(p, { port: 0 });
    try {
      const post = (body: BodyInit, type: string) => fetch(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': type }, body });
      const r = await post(new Uint8Array(PNG.sync.write(png)), 'image/png');
      expect(r.status, await r.clone().text()).toBe(200);
      const j = await r.json();
      expect(new Float32Array(j.probabilities)).toEqual(reference);
      expect(j.name).toBe(['red', 'green', 'blue'][j.class]);
      const rj = await post(new Uint8Array(jpg), 'image/jpeg');
      expect(rj.status, await rj.clone().text()).toBe(200);
      expect((await rj.json()).probabilities).toEqual(byClass(JSON.parse(cli.stdout).predictions));
    } finally {
      await srv.close();
    }
  }, 60_000);
});

describe('serve: a model trained with fit crop', () => {
  it("gets the centred part of a picture of another shape: a 32x16 picture's middle 16x16, exactly", async () => {
    const be = await initBackend({ backend: 'simd' });
    const m = sequential([conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), flatten(), dense({ units: 3 })], { inputShape: [3, 16, 16], classes: 3, seed: 6, backend: be });
    const path = join(dir, 'cropped.cnnw');
    saveModel(m, path, { metadata: { fit: 'crop' } });
    // 32x16: columns 8-23 hold the picture the model is given; the 8 columns on each side are what cropping cuts.
    const png = new PNG({ width: 32, height: 16 }), planes = new Uint8Array(3 * 256);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 32; x++) {
        const i = y * 16 + (x - 8), inside = x >= 8 && x < 24;
        const rgb = inside ? [(i * 7) & 255, (i * 13 + 50) & 255, 255 - i] : [255, 255, 0];
        png.data.set([...rgb, 255], 4 * (y * 32 + x));
        if (inside) rgb.forEach((v, c) => { planes[c * 256 + i] = v; });
      }
    }
    const reference = m.predict(planes);
    m.dispose();
    const p = await createPredictor(path, { backend: 'simd' });
    expect(p.fit).toBe('crop');
    const srv = await startServer(p, { port: 0 });
    try {
      const r = await fetch(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(PNG.sync.write(png)) });
      expect(r.status, await r.clone().text()).toBe(200);
      expect(new Float32Array((await r.json()).probabilities)).toEqual(reference);
    } finally {
      await srv.close();
    }
  });
});

describe('createPredictor: pictures as ImageData', () => {
  it('a 1x28x28 model trained with fit resize gets its pictures resized, not centred like a digit', async () => {
    const be = await initBackend();
    const m = sequential([conv2d({ filters: 2, kernelSize: 3, activation: 'relu' }), flatten(), dense({ units: 10 })], { inputShape: [1, 28, 28], seed: 3, backend: be });
    const path = join(dir, 'gray-photos.cnnw');
    saveModel(m, path, { metadata: { fit: 'resize' } });
    // An opaque gray 28x28 picture, a blob off the centre: resized it is its own gray levels; a digit's centring would move it.
    const gray = new Uint8Array(784), data = new Uint8ClampedArray(784 * 4);
    for (let i = 0; i < 784; i++) {
      const x = i % 28, y = Math.floor(i / 28);
      gray[i] = (x - 6) ** 2 + (y - 7) ** 2 < 20 ? 250 : 10;
      data.set([gray[i], gray[i], gray[i], 255], 4 * i);
    }
    const reference = m.predict(gray);
    m.dispose();
    const p = await createPredictor(path, {});
    try {
      expect(p.fit).toBe('resize');
      expect(new Float32Array((await p.predict({ data, width: 28, height: 28 })).probabilities)).toEqual(reference);
    } finally {
      await p.close();
    }
  });
});

describe('serve: more workers than cores', () => {
  it('warns, and serves all the same', async () => {
    const { availableCores } = await import('../ts/parallel/group.js');
    const cores = await availableCores(), bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'serve', modelPath, '--port', '0', '--workers', String(cores + 1)]);
    let out = '', err = '';
    child.stderr.on('data', (d) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => { out += d; const m = /at (http:\/\/\S+) /.exec(out); if (m) resolve(m[1]); });
      child.on('exit', (c) => reject(new Error(`serve exited (${c}) before listening: ${out}${err}`)));
    });
    const r = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: digit(0) }) });
    expect(r.status).toBe(200);
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    expect(err).toContain(`warning: ${cores + 1} workers on ${cores} cores: they take turns on the cores`);
  }, 30_000);
});

describe('serve: graceful shutdown', () => {
  it('SIGTERM with requests in flight answers them all, then exits 0', async () => {
    const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
    // Batches wait up to 2 s to fill: the requests are all queued when SIGTERM comes.
    const child = spawn(process.execPath, [bin, 'serve', modelPath, '--port', '0', '--workers', '2', '--max-delay-ms', '2000', '--max-batch', '64']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => { const m = /at (http:\/\/\S+) /.exec(out); if (m) resolve(m[1]); });
      child.on('exit', (c) => reject(new Error(`serve exited (${c}) before listening: ${out}`)));
    });
    const inFlight = Array.from({ length: 40 }, (_, i) => fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pixels: digit(i) }) }));
    for (let t0 = performance.now(); performance.now() - t0 < 5000;) {
      const h = await (await fetch(`${url}/health`)).json();
      if (h.queueLength === 40) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    const answers = await Promise.all(inFlight.map(async (r) => (await r).status));
    expect(answers).toEqual(new Array(40).fill(200));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/stopped/);
  }, 30_000);
});
