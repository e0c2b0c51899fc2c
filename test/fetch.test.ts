/** IDX over fetch (what browsers use): gzip or not, errors naming the URL, and the bundled sample. */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIdx, loadMnistSample } from '../ts/data/fetch.js';
import { sampleDir } from '../ts/data/sample.js';
import { mnistSample } from './data.js';
import { listenLocal } from './support/http.js';

const gz = readFileSync(`${sampleDir()}/t10k-labels-idx1-ubyte.gz`);
let server: Server, base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/labels.gz') res.end(gz);
    else if (req.url === '/labels') res.end(gunzipSync(gz));
    else if (req.url === '/broken.gz') res.end(Buffer.concat([gz.subarray(0, 20), Buffer.alloc(50, 7)]));
    else { res.writeHead(404); res.end(); }
  });
  base = await listenLocal(server);
});
afterAll(() => server.close());

describe('fetchIdx', () => {
  it('reads gzipped and plain IDX alike', async () => {
    const a = await fetchIdx(`${base}/labels.gz`, 1), b = await fetchIdx(`${base}/labels`, 1);
    expect(a.dims).toEqual([1000]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    expect(Array.from(a.data.subarray(0, 20))).toEqual(Array.from((mnistSample('t10k', 20).labels as Uint8Array)));
  });
  it('names the URL in every error', async () => {
    await expect(fetchIdx(`${base}/nope`)).rejects.toThrow(new RegExp(`${base}/nope: fetching failed: HTTP 404`));
    await expect(fetchIdx(`${base}/broken.gz`)).rejects.toThrow(/broken.gz: not a valid gzip file/);
    await expect(fetchIdx(`${base}/labels.gz`, 3)).rejects.toThrow(/labels.gz: 1 dimensions, expected 3/);
  });
});

describe('loadMnistSample', () => {
  it('fetches the bundled sample from the package: 9,000 + 1,000 digits, as readSplit reads them', async () => {
    const s = await loadMnistSample();
    expect([s.train.count, s.test.count]).toEqual([9000, 1000]);
    expect(Buffer.from(s.test.images as Uint8Array).equals(Buffer.from(mnistSample('t10k').images as Uint8Array))).toBe(true);
  });
});
