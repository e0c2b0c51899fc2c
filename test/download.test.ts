/** Downloads against a local HTTP server (tests never use the network). */
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadVerified, DownloadError, type RemoteFile } from '../ts/data/download.js';
import { FASHION_MNIST, loadDataset } from '../ts/data/datasets.js';
import { listenLocal } from './support/http.js';

const payload = new Uint8Array(gzipSync(Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** 40 MB of zeros in 40 KB of gzip. */
const bomb = new Uint8Array(gzipSync(new Uint8Array(40_000_000)));
const fashionDir = FASHION_MNIST.systemDir;
if (!existsSync(fashionDir)) console.log(`download.test: skipping the Fashion-MNIST cache test: it serves Debian's copy (apt-get install -y dataset-fashion-mnist; .ci/run installs it)`);
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
    } else if (route === 'huge') {
      res.writeHead(200, { 'content-length': 600_000_000 });
      res.write(payload.subarray(0, 1000)); // and it would go on
    } else if (route === 'endless') {
      res.writeHead(200); // no length: chunks until the client gives up
      const t = setInterval(() => { if (!res.write(new Uint8Array(16_384))) return; }, 1);
      res.on('close', () => clearInterval(t));
    } else if (route === 'trickle') {
      res.writeHead(200, { 'content-length': payload.length });
      const t = setInterval(() => res.write(payload.subarray(0, 1)), 50); // never idle, never done
      res.on('close', () => clearInterval(t));
    } else if (route === 'error500') {
      res.writeHead(500);
      res.end('internal error');
    } else if (route === 'bomb') {
      res.writeHead(200);
      res.end(bomb);
    } else if (route === 'fashion') {
      res.writeHead(200);
      res.end(readFileSync(join(fashionDir, name)));
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  base = await listenLocal(server);
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
    expect(err!.message).toMatch(/cut\/data.gz: connection closed by the server( after \d+ of \d+ bytes)?(;|$)/);
    expect(err!.message).not.toMatch(/UND_ERR|terminated|other side closed/);
    expect(err!.message).toMatch(/stall\/data.gz: no data for 300 ms/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('downloads are bounded', () => {
  const small: RemoteFile = { ...file, maxBytes: 200_000 };

  it('a body larger than the file can be is refused, announced or not, and nothing is left on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const err = await downloadVerified([`${base}/huge/`, `${base}/endless/`], small, join(dir, 'data.gz')).then(() => null, (e: Error) => e);
    expect(err!.message).toMatch(/huge\/data.gz: the server offers 600000000 bytes, more than data.gz can be \(200000\)/);
    expect(err!.message).toMatch(/endless\/data.gz: more than 200000 bytes arrived, more than data.gz can be/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a server trickling bytes is abandoned at the whole-file deadline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const err = await downloadVerified([`${base}/trickle/`], file, join(dir, 'data.gz'), { idleTimeoutMs: 1000, deadlineMs: 400 }).then(() => null, (e: Error) => e);
    expect(err!.message).toMatch(/trickle\/data.gz: the whole file did not arrive within 0 s$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('errors are in words', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now
    const err = await downloadVerified([`http://127.0.0.1:${port}/`, `${base}/cut/`], file, join(dir, 'data.gz')).then(() => null, (e: Error) => e);
    expect(err!.message).toMatch(new RegExp(`127.0.0.1:${port}/data.gz: connection refused; `));
    expect(err!.message).toMatch(/cut\/data.gz: connection closed by the server/);
  });

  it('a gzip that inflates past its limit says exactly that', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const f: RemoteFile = { name: 'x.gz', sha256: '0'.repeat(64), hashOf: 'content', maxInflatedBytes: 1_000_000 };
    const err = await downloadVerified([`${base}/bomb/`], f, join(dir, 'x.gz')).then(() => null, (e: Error) => e);
    expect(err!.message).toMatch(/bomb\/x.gz: x.gz: inflates to more than 1000000 bytes, the most it can hold/);
    const { parseIdx } = await import('../ts/data/idx-node.js');
    expect(() => parseIdx(bomb.subarray(0), 'bomb.gz')).not.toThrow(/not a valid gzip/); // 40 MB is within the IDX limit: parsed, then refused as IDX
  });

  it('stale partial downloads of processes that are gone are removed by the next download', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-'));
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(dir, `.data.gz.part-${dead}`), 'half');
    await downloadVerified([`${base}/good/`], file, join(dir, 'data.gz'));
    expect(readdirSync(dir)).toEqual(['data.gz']);
  });

  it('CNN_WASM_MIRROR points the MNIST download elsewhere', async () => {
    const saved = process.env.CNN_WASM_MIRROR;
    process.env.CNN_WASM_MIRROR = `${base}/mirror/`;
    try {
      const d = await loadDataset('mnist', { cacheDir: mkdtempSync(join(tmpdir(), 'cache-')) });
      expect(d.fallbackReason).toMatch(new RegExp(`${base}/mirror/mnist/train-images-idx3-ubyte.gz: HTTP 404`));
      expect(hits).toContain('/mirror/mnist/train-images-idx3-ubyte.gz');
      process.env.CNN_WASM_MIRROR = 'ftp://nope';
      await expect(loadDataset('mnist')).rejects.toThrow(/CNN_WASM_MIRROR must be an http:\/\/ or https:\/\/ URL/);
    } finally {
      if (saved === undefined) delete process.env.CNN_WASM_MIRROR;
      else process.env.CNN_WASM_MIRROR = saved;
    }
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

describe('partial downloads of killed runs', () => {
  const dist = new URL('../dist/data/download.js', import.meta.url).href;
  /** Spins (without yielding, so the parent cannot reap it) until process `pid` is a zombie: killed, not yet reaped. */
  const untilZombie = (pid: number) => {
    for (let i = 0; i < 5_000_000; i++) {
      const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z') return;
    }
    throw new Error(`process ${pid} did not die`);
  };
  const parts = (dir: string) => readdirSync(dir).filter((n) => n.includes('.part-'));
  /** A run downloading `name` from the trickling route (never done), killed with SIGKILL once its .part exists; resolves to its pid, not yet reaped. */
  const killedRun = async (dir: string, name: string) => {
    const f = JSON.stringify({ name, sha256: '0'.repeat(64), hashOf: 'download' });
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { downloadVerified } from ${JSON.stringify(dist)}; await downloadVerified([${JSON.stringify(`${base}/trickle/`)}], ${f}, ${JSON.stringify(join(dir, name))});`], { stdio: 'ignore' });
    const part = `.${name}.part-${child.pid}`;
    while (!readdirSync(dir).includes(part)) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    untilZombie(child.pid!);
    return child.pid!;
  };

  it.runIf(process.platform === 'linux')('three runs killed with SIGKILL, then one whose mirror answers HTTP 500: no .part file is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-killed-'));
    const names = ['train-images.gz', 'train-labels.gz', 'train-images.gz'];
    for (const name of names) {
      await killedRun(dir, name); // the next run starts while this one is still a zombie
      expect(parts(dir).length).toBeLessThanOrEqual(2); // its own, and at most the one before it that the next run has not yet removed
    }
    const f: RemoteFile = { name: 't10k-labels.gz', sha256: '0'.repeat(64), hashOf: 'download' };
    await expect(downloadVerified([`${base}/error500/`], f, join(dir, f.name))).rejects.toThrow(/HTTP 500/);
    expect(parts(dir)).toEqual([]);
  }, 60_000);

  it('a process that exits before renaming its temporary file removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-exit-'));
    const tf = new URL('../dist/io/tempfiles.js', import.meta.url).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { tempPathFor, trackTemp } from ${JSON.stringify(tf)}; import { writeFileSync } from 'node:fs'; const p = tempPathFor(${JSON.stringify(join(dir, 'x.gz'))}, 'part'); trackTemp(p); writeFileSync(p, 'half'); throw new Error('EPIPE, say');`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });
});
