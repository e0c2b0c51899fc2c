/** Downloads against a local HTTP server (tests never use the network). */
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadVerified, DownloadError, type RemoteFile } from '../ts/data/download.js';
import { FASHION_MNIST, loadDataset } from '../ts/data/datasets.js';

const payload = new Uint8Array(gzipSync(Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fashionDir = FASHION_MNIST.systemDir;
let server: Server;
let base = '';
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    hits.push(url);
    const [, route, name] = url.split('/');
    if (route === 'good') {
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
    } else if (route === 'corrupt') {
      const bad = payload.slice(); bad[1000] ^= 1;
      res.writeHead(200, { 'content-length': bad.length });
      res.end(bad);
    } else if (route === 'cut') {
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, payload.length >> 1), () => res.destroy());
    } else if (route === 'stall') {
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 100)); // then nothing
    } else if (route === 'fashion') {
      res.writeHead(200);
      res.end(readFileSync(join(fashionDir, name)));
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const file: RemoteFile = { name: 'data.gz', sha256: sha(payload), hashOf: 'download' };

describe('downloadVerified', () => {
  it('downloads, verifies and renames into place, reporting progress', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const seen: number[] = [];
    await downloadVerified([`${base}/good/`], file, join(dir, 'data.gz'), { onProgress: (r, t) => { seen.push(r); expect(t).toBe(payload.length); } });
    expect(Buffer.from(readFileSync(join(dir, 'data.gz'))).equals(Buffer.from(payload))).toBe(true);
    expect(seen[seen.length - 1]).toBe(payload.length);
    expect(readdirSync(dir)).toEqual(['data.gz']);
  });

  it('a checksum mismatch, a connection cut mid-file and a 404 each fall through to the next mirror', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    await downloadVerified([`${base}/corrupt/`, `${base}/cut/`, `${base}/missing/`, `${base}/good/`], file, join(dir, 'data.gz'));
    expect(sha(readFileSync(join(dir, 'data.gz')))).toBe(file.sha256);
    expect(readdirSync(dir)).toEqual(['data.gz']);
  });

  it('fails with every mirror named, leaving nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const err = await downloadVerified([`${base}/corrupt/`, `${base}/cut/`, `${base}/stall/`], file, join(dir, 'data.gz'), { idleTimeoutMs: 300 })
      .then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err!.message).toMatch(/corrupt\/data.gz: checksum mismatch: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    expect(err!.message).toMatch(/cut\/data.gz: (connection closed after \d+ of \d+ bytes|terminated|other side closed|UND_ERR_SOCKET)/);
    expect(err!.message).toMatch(/stall\/data.gz: no data for 300 ms/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('loadDataset', () => {
  it("'mnist' falls back to the bundled sample when no mirror works, saying why", async () => {
    const d = await loadDataset('mnist', { cacheDir: mkdtempSync(join(tmpdir(), 'cache-')), mirrors: { mnist: [`${base}/missing/`] } });
    expect(d.name).toBe('mnist-sample');
    expect(d.train.count).toBe(9000);
    expect(d.fallbackReason).toMatch(/missing\/train-images-idx3-ubyte.gz: HTTP 404/);
  });

  it('rejects unknown names and missing directories', async () => {
    await expect(loadDataset('cifar')).rejects.toThrow(/unknown dataset 'cifar' \(valid: mnist, mnist-sample, fashion-mnist/);
    await expect(loadDataset('./no/such/dir')).rejects.toThrow(/dataset directory .\/no\/such\/dir does not exist/);
  });

  it.runIf(existsSync(fashionDir))('downloads Fashion-MNIST into the cache, verified by content hash, then reuses the cache', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'cache-'));
    const opts = { cacheDir: cache, mirrors: { fashion: [`${base}/fashion/`] }, ignoreSystemFashion: true };
    const d = await loadDataset('fashion-mnist', opts);
    expect([d.train.count, d.test.count, d.train.rows]).toEqual([60000, 10000, 28]);
    expect(readdirSync(join(cache, 'fashion-mnist')).sort()).toEqual(['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
    const before = hits.length;
    await loadDataset('fashion-mnist', opts);
    expect(hits.length).toBe(before); // served from the cache
  });
});
