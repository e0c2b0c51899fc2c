/** IDX over fetch (what browsers use): gzip or not, errors naming the URL, and the bundled sample. */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchIdx, loadMnistSample } from '../ts/data/fetch.js';
import { sampleDir } from '../ts/data/sample.js';
import { mnistSample } from './data.js';
import { listenLocal } from './support/http.js';

const gz = readFileSync(`${sampleDir()}/t10k-labels-idx1-ubyte.gz`);
// 8 bytes of a valid IDX header (u8, 1 dimension of 64 Mi values) and 64 MiB of zeros: 64 KiB gzipped.
const bombContent = Buffer.alloc(8 + 64 * 2 ** 20);
bombContent.set([0, 0, 8, 1, 0x04, 0, 0, 0]);
const bomb = gzipSync(bombContent, { level: 9 });
let server: Server, base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/labels.gz') res.end(gz);
    else if (req.url === '/labels') res.end(gunzipSync(gz));
    else if (req.url === '/broken.gz') res.end(Buffer.concat([gz.subarray(0, 20), Buffer.alloc(50, 7)]));
    else if (req.url === '/endless') {
      // A body that never ends (no Content-Length): 64 KiB at a time for as long as the client reads.
      const chunk = Buffer.alloc(65_536, 1);
      const more = () => { while (res.write(chunk)); };
      res.on('drain', more);
      req.socket.on('close', () => res.off('drain', more));
      more();
    } else if (req.url === '/declares-huge') {
      res.writeHead(200, { 'content-length': String(2 ** 40) });
      res.write(Buffer.alloc(10)); // then nothing: the declared length alone refuses it
    } else if (req.url === '/bomb.gz') res.end(bomb);
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

describe('fetchIdx reads with a ceiling (maxBytes)', () => {
  it('a body that never ends is cut off once past it, naming the URL and the limit', async () => {
    await expect(fetchIdx(`${base}/endless`, 1, { maxBytes: 2 ** 20 })).rejects.toThrow(`${base}/endless: more than the 1,048,576 bytes an IDX file may have (maxBytes)`);
  });
  it('a declared length past it is refused before the body is read (the default ceiling: 256 Mi values)', async () => {
    await expect(fetchIdx(`${base}/declares-huge`)).rejects.toThrow(`${base}/declares-huge: the server declares 1,099,511,627,776 bytes, more than the 268,435,520 an IDX file may have (maxBytes)`);
  });
  it('a gzip file that inflates past it is refused while it inflates; under it, it is read', async () => {
    expect(bomb.length).toBeLessThan(2 ** 20);
    await expect(fetchIdx(`${base}/bomb.gz`, 1, { maxBytes: 2 ** 20 })).rejects.toThrow(`${base}/bomb.gz: inflates to more than the 1,048,576 bytes an IDX file may have (maxBytes)`);
    const whole = await fetchIdx(`${base}/bomb.gz`, 1, { maxBytes: 65 * 2 ** 20 });
    expect(whole.dims).toEqual([64 * 2 ** 20]);
    await expect(fetchIdx(`${base}/labels.gz`, 1, { maxBytes: 0 })).rejects.toThrow('fetchIdx: maxBytes must be a positive integer, got 0');
  });
});

describe('loadMnistSample', () => {
  it('fetches the bundled sample from the package: 9,000 + 1,000 digits, as readSplit reads them', async () => {
    const s = await loadMnistSample();
    expect([s.train.count, s.test.count]).toEqual([9000, 1000]);
    expect(Buffer.from(s.test.images as Uint8Array).equals(Buffer.from(mnistSample('t10k').images as Uint8Array))).toBe(true);
  });
});
