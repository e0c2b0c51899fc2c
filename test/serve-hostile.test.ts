/**
 * `serve` against hostile clients: deep JSON, label injection, unbounded
 * series, PNG bombs, silent and trickling connections, shutdown mid-body,
 * Node's own rejections, a port in use. No assertion races the clock: each
 * waits for the event it asserts (a close, an exit, an answer).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { decodeImage, pngInflatedSize } from '../ts/image/decode.js';
import { saveModel } from '../ts/model-file-node.js';
import { createPreset } from '../ts/models/presets.js';
import { createPredictor } from '../ts/serve/predictor.js';
import { escapeLabel, startServer } from '../ts/serve/http.js';
import { mnistSample } from './data.js';

const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-hostile-'));
const modelPath = join(dir, 'digits.cnnw');
const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
const digit = Array.from(mnistSample('t10k', 1).images);

beforeAll(async () => {
  const { model } = createPreset('lenet5-bn', { backend: await initBackend({ backend: 'simd' }), seed: 1 });
  saveModel(model, modelPath);
  model.dispose();
});

type Srv = Awaited<ReturnType<typeof startServer>>;
async function serveWith(o: Parameters<typeof startServer>[1] = {}): Promise<Srv> {
  return startServer(await createPredictor(modelPath, { maxBatch: 8 }), { port: 0, ...o });
}
const portOf = (s: Srv) => Number(new URL(s.url).port);
const open = (s: Srv) => new Promise<Socket>((resolve, reject) => {
  const sock = connect(portOf(s), '127.0.0.1', () => resolve(sock));
  sock.on('error', reject);
});
/** Everything the server sends on a socket until it closes. */
const replyOf = (sock: Socket) => new Promise<string>((resolve) => {
  let text = '';
  sock.on('data', (d) => (text += d));
  sock.on('error', () => {});
  sock.on('close', () => resolve(text));
});
const closed = (sock: Socket) => new Promise<void>((r) => (sock.destroyed ? r() : sock.once('close', () => r())));

/** A PNG of the given chunks (CRCs computed). */
function png(ihdr: { w: number; h: number; depth?: number; color?: number; interlace?: number }, idat: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length, 0);
    b.write(type, 4, 'latin1');
    b.set(data, 8);
    b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
    return b;
  };
  const h = Buffer.alloc(13);
  h.writeUInt32BE(ihdr.w, 0);
  h.writeUInt32BE(ihdr.h, 4);
  h.set([ihdr.depth ?? 8, ihdr.color ?? 0, 0, 0, ihdr.interlace ?? 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', h), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

describe('serve: request bodies', () => {
  let srv: Srv;
  beforeAll(async () => { srv = await serveWith(); });
  afterAll(async () => srv.close());
  const post = (body: string) => fetch(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it.each([
    ['inside one pixel', (deep: string) => `{"pixels":[${deep}${',0'.repeat(783)}]}`, /pixels\[0\] is an array, not a number in 0..255: pixels is not a valid pixel array/],
    ['inside batch[0]', (deep: string) => `{"batch":[${deep}]}`, /batch\[0\]\[0\] is an array, not a number in 0..255|batch\[0\] has 1 values/],
    ['as a pixel of batch[0]', (deep: string) => `{"batch":[[${deep}${',0'.repeat(783)}]]}`, /batch\[0\]\[0\] is an array, not a number in 0..255: batch\[0\] is not a valid pixel array/],
  ])('JSON nested 100,000 arrays deep %s is a 400 naming the pixel array', async (_w, body, msg) => {
    const deep = '['.repeat(100_000) + '0' + ']'.repeat(100_000);
    const r = await post(body(deep));
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatch(msg);
    expect((await post(JSON.stringify({ pixels: digit }))).status).toBe(200);
  });

  it('a deep object and an object pixel are 400s too', async () => {
    const deepObj = '{"a":'.repeat(50_000) + '0' + '}'.repeat(50_000);
    const r = await post(`{"pixels":[${deepObj}${',0'.repeat(783)}]}`);
    expect(r.status).toBe(400);
    expect((await r.json()).error).toMatch(/pixels\[0\] is an object/);
    const r2 = await post(`{"batch":${deepObj}}`);
    expect(r2.status).toBe(400);
  });
});

describe('serve: /metrics', () => {
  let srv: Srv;
  beforeAll(async () => { srv = await serveWith(); });
  afterAll(async () => srv.close());

  /** Sends a raw request line (a path fetch would escape) and waits for the answer. */
  const raw = async (line: string) => {
    const s = await open(srv);
    const reply = replyOf(s);
    s.write(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    return reply;
  };
  // Prometheus text format: a metric name, optional {name="escaped value",...}, a value.
  const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")*\})? [-+0-9.e]+$|^[-+]?Inf$/;

  it('a path with quotes, backslashes or label syntax cannot inject labels; unknown paths count as one series', async () => {
    for (const p of ['/x"y', '/a\\b', '/q",code="200"} 99\nevil_metric{a="', '/%22x']) await raw(`GET ${p.replace(/\n/g, '')} HTTP/1.1`);
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    for (const line of text.trim().split('\n')) if (!line.startsWith('#')) expect(line).toMatch(SAMPLE);
    expect(text).not.toMatch(/evil_metric|route="\/x/);
    // Node's parser refuses some of these paths itself (400); either way each is counted under route="other".
    const other = [...text.matchAll(/^cnnwasm_http_requests_total\{route="other",code="(\d+)"\} (\d+)$/gm)];
    expect(other.reduce((a, m) => a + Number(m[2]), 0)).toBe(4);
  });

  it('3,000 distinct unknown paths of 8 KB add no series', async () => {
    const before = (await (await fetch(`${srv.url}/metrics`)).text()).split('\n').length;
    for (let i = 0; i < 3000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => fetch(`${srv.url}/${String(i + j).padStart(8000, 'p')}`).then((r) => r.text())));
    }
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    expect(text.split('\n').length).toBeLessThanOrEqual(before + 1); // at most the /metrics 200 series itself is new
    expect(text.length).toBeLessThan(20_000);
  }, 60_000);

  it('escapeLabel follows the text format', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('PNG decompression bombs', () => {
  // A 28x28 gray header whose image data inflates to 64 MiB of zeros (about 64 KB of file).
  const bomb = (interlace: number) => png({ w: 28, h: 28, interlace }, deflateSync(Buffer.alloc(64 << 20), { level: 9 }));

  it('the data a header needs: filter bytes and packed rows, Adam7 passes when interlaced', () => {
    expect(pngInflatedSize(28, 28, 8, 0, false)).toBe(28 * 29);
    expect(pngInflatedSize(28, 28, 8, 6, false)).toBe(28 * (1 + 28 * 4));
    expect(pngInflatedSize(3, 1, 1, 0, false)).toBe(2);
    // Adam7 on 8x8: the passes are 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4 pixels.
    expect(pngInflatedSize(8, 8, 8, 0, true)).toBe(2 + 2 + 3 + 2 * 3 + 2 * 5 + 4 * 5 + 4 * 9);
  });

  it.each([0, 1])('interlace %i: refused before it is inflated whole, naming the limit', (interlace) => {
    expect(() => decodeImage(bomb(interlace), 'bomb.png')).toThrow(/bomb\.png: not a readable PNG \(its image data inflates to more than the [\d,]+ bytes its 28x28 header needs\)/);
  });

  it('truncated data, chunks longer than the file and a missing IEND are named', () => {
    const ok = png({ w: 2, h: 2 }, deflateSync(Buffer.alloc(6)));
    expect(decodeImage(ok, 'ok.png').data.length).toBe(4);
    expect(() => decodeImage(png({ w: 2, h: 2 }, deflateSync(Buffer.alloc(3))), 't.png')).toThrow(/truncated image data: 3 of the 6 bytes/);
    expect(() => decodeImage(ok.subarray(0, ok.length - 12), 'e.png')).toThrow(/no IEND chunk/);
    const long = Buffer.from(ok);
    long.writeUInt32BE(1 << 30, 33);
    expect(() => decodeImage(long, 'l.png')).toThrow(/chunk "IDAT" declares 1073741824 bytes/);
  });

  it('serve answers an interlaced bomb with a 400 and stays healthy', async () => {
    const srv = await serveWith();
    try {
      const r = await fetch(`${srv.url}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bomb(1) as BodyInit });
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatch(/inflates to more than/);
      expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

describe('serve: connections', () => {
  it('connections that never send a byte are closed after the idle timeout', async () => {
    const srv = await serveWith({ idleTimeoutMs: 300 });
    try {
      const socks = await Promise.all(Array.from({ length: 50 }, () => open(srv)));
      await Promise.all(socks.map(closed)); // each closes (the test's own timeout bounds the wait)
      expect((await fetch(`${srv.url}/health`)).status).toBe(200);
    } finally {
      await srv.close();
    }
  }, 30_000);

  it('connections beyond maxConnections are closed as they arrive; close() ends silent ones', async () => {
    const srv = await serveWith({ maxConnections: 3, idleTimeoutMs: 600_000 });
    const socks: Socket[] = [];
    for (let i = 0; i < 3; i++) socks.push(await open(srv));
    // The server sees the first three before the extra ones connect.
    for (;;) {
      const n = await new Promise<number>((r) => srv.server.getConnections((_e, c) => r(c)));
      if (n === 3) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const extra = await Promise.all(Array.from({ length: 3 }, () => open(srv)));
    await Promise.all(extra.map(closed));
    expect(socks.every((s) => !s.destroyed)).toBe(true);
    await srv.close();
    await Promise.all(socks.map(closed));
  }, 30_000);

  it('Node\'s own rejections get one-line JSON errors: 431, 400 and 408', async () => {
    const srv = await serveWith({ headersTimeoutMs: 300, requestTimeoutMs: 300 });
    try {
      const ask = async (send: (s: Socket) => void) => {
        const s = await open(srv);
        const reply = replyOf(s);
        send(s);
        const text = await reply;
        const [head, body] = text.split('\r\n\r\n');
        return { status: Number(head.split(' ')[1]), type: /content-type: ([^\r]+)/i.exec(head)?.[1], body: JSON.parse(body) as { error: string } };
      };
      const big = await ask((s) => s.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
      expect(big).toMatchObject({ status: 431, type: 'application/json' });
      expect(big.body.error).toMatch(/headers are larger than the limit/);
      const bad = await ask((s) => s.write('HELLO THERE\r\n\r\n'));
      expect(bad).toMatchObject({ status: 400, type: 'application/json' });
      expect(bad.body.error).toMatch(/not a valid HTTP request/);
      const slow = await ask((s) => s.write('GET /health HTTP/1.1\r\nHost: x\r\n')); // and never ends the headers
      expect(slow).toMatchObject({ status: 408, type: 'application/json' });
      expect(slow.body.error).toMatch(/did not arrive within its time limit/);
    } finally {
      await srv.close();
    }
  }, 30_000);

  it('close(): a request whose body is still arriving gets 503 with Retry-After; idle and half-sent connections end', async () => {
    const srv = await serveWith({ idleTimeoutMs: 600_000, headersTimeoutMs: 600_000, requestTimeoutMs: 600_000 });
    const body = JSON.stringify({ pixels: digit });
    const midBody = await open(srv);
    const reply = replyOf(midBody);
    midBody.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`);
    const silent = await open(srv), halfHeaders = await open(srv);
    halfHeaders.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    // The handler of the mid-body request runs before close() is called.
    for (;;) {
      if ((await (await fetch(`${srv.url}/metrics`)).text()).includes('route="/metrics"')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 50));
    await srv.close();
    const text = await reply;
    expect(text).toMatch(/^HTTP\/1.1 503 /);
    expect(text).toMatch(/retry-after: 1/i);
    expect(JSON.parse(text.split('\r\n\r\n')[1]).error).toMatch(/shutting down/);
    await Promise.all([closed(silent), closed(halfHeaders)]);
  }, 30_000);
});

describe('cnn-wasm serve: the process', () => {
  const run = (args: string[]) => {
    const child = spawn(process.execPath, [bin, 'serve', modelPath, ...args]);
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((r) => child.on('exit', r));
    const url = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => { const m = /at (http:\/\/\S+) /.exec(out); if (m) resolve(m[1]); });
      void exit.then((c) => reject(new Error(`serve exited (${c}): ${out}${err}`)));
    });
    url.catch(() => {});
    return { child, exit, url, err: () => err };
  };

  it('a port in use: exit 1 with one line, no thread left behind', async () => {
    const taken = createTcpServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const s = run(['--port', String(port), '--workers', '2']);
      expect(await s.exit).toBe(1);
      expect(s.err().trim()).toBe(`cnn-wasm: port ${port} on 127.0.0.1 is in use by another program: choose another with --port (0 picks a free one)`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it('SIGTERM with a silent connection and a trickling client open: exits 0', async () => {
    const s = run(['--port', '0']);
    const port = Number(new URL(await s.url).port);
    const silent = connect(port, '127.0.0.1'), trickle = connect(port, '127.0.0.1');
    silent.on('error', () => {});
    trickle.on('error', () => {});
    await Promise.all([silent, trickle].map((k) => new Promise((r) => k.once('connect', r))));
    trickle.write('GET /health HTTP/1.1\r\n');
    const tick = setInterval(() => trickle.write('X'), 50);
    await new Promise((r) => setTimeout(r, 100));
    s.child.kill('SIGTERM');
    try {
      expect(await s.exit).toBe(0);
    } finally {
      clearInterval(tick);
    }
    await Promise.all([closed(silent), closed(trickle)]);
  }, 30_000);
});
