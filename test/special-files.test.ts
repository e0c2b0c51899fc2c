/**
 * Paths that name something other than a regular file, and files too large,
 * are refused before they are read: a named pipe would block the read until
 * some writer came (forever), a device such as /dev/zero never ends (the read
 * grew to gigabytes), and an image far larger than any picture of the
 * accepted size is refused by its size, not read whole first.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadImageFolder } from '../ts/data/folder.js';
import { maxImageFileBytes } from '../ts/image/decode.js';
import { readFileCapped } from '../ts/io/files.js';

const posix = process.platform !== 'win32';
const bin = new URL('../bin/cnn-wasm.js', import.meta.url).pathname;
const mkfifo = (path: string) => {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr}`);
};
const png = (side: number) => {
  const p = new PNG({ width: side, height: side });
  p.data.fill(120);
  return PNG.sync.write(p);
};

describe.skipIf(!posix)('readFileCapped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-special-'));

  it('reads a regular file whole, and refuses a device, a directory and a file over the cap by name, before reading', () => {
    const f = join(dir, 'data.bin');
    const bytes = new Uint8Array(100_000).map((_, i) => i * 7);
    writeFileSync(f, bytes);
    expect(Buffer.from(readFileCapped(f, 'a data file')).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(readFileCapped(f, 'a data file', 100_000)).equals(Buffer.from(bytes))).toBe(true);
    expect(() => readFileCapped(f, 'a data file', 99_999)).toThrow(`${f}: 100,000 bytes, more than the 99,999 a data file may have (maxBytes)`);
    const zero = join(dir, 'zero.bin');
    symlinkSync('/dev/zero', zero);
    expect(() => readFileCapped(zero, 'a data file')).toThrow(`${zero}: is a device, not a data file (only regular files are read)`);
    expect(() => readFileCapped(dir, 'a data file')).toThrow(`${dir}: is a directory, not a data file`);
    expect(() => readFileCapped(join(dir, 'none'), 'a data file')).toThrow(`${join(dir, 'none')}: no such file (give the path of a data file)`);
  });

  it('refuses a named pipe at once, though no writer ever opens it', () => {
    const fifo = join(dir, 'pipe.bin');
    mkfifo(fifo);
    expect(() => readFileCapped(fifo, 'a data file')).toThrow(`${fifo}: is a named pipe (FIFO), not a data file (only regular files are read)`);
  });
});

describe.skipIf(!posix)('an image folder with a named pipe, a device and an oversized image among its pictures', () => {
  const root = mkdtempSync(join(tmpdir(), 'cnn-wasm-special-folder-'));
  for (const c of ['cats', 'dogs']) {
    mkdirSync(join(root, c));
    for (let i = 0; i < 6; i++) writeFileSync(join(root, c, `${i}.png`), png(8));
  }
  mkfifo(join(root, 'cats', 'a-pipe.png'));
  symlinkSync('/dev/zero', join(root, 'dogs', 'a-zero.png'));
  // maxSide 8: an image file may have 8 bytes a pixel + 1 MiB; this one has 2 MiB.
  const big = new Uint8Array(2 * 2 ** 20);
  big.set(png(8));
  writeFileSync(join(root, 'dogs', 'b-big.png'), big);

  it('skips the three, each named with why; a strict load ends at the first', async () => {
    const f = await loadImageFolder(root, { maxSide: 8, threads: 1 });
    expect(f.train.count + (f.val?.count ?? 0)).toBe(12);
    expect(f.skipped).toEqual([
      { file: join(root, 'cats', 'a-pipe.png'), reason: 'is a named pipe (FIFO), not an image (only regular files are read)' },
      { file: join(root, 'dogs', 'a-zero.png'), reason: 'is a device, not an image (only regular files are read)' },
      { file: join(root, 'dogs', 'b-big.png'), reason: `2,097,152 bytes, more than the ${maxImageFileBytes(8).toLocaleString('en-US')} an image may have (maxBytes)` },
    ]);
    await expect(loadImageFolder(root, { maxSide: 8, strict: true })).rejects.toThrow(`${join(root, 'cats', 'a-pipe.png')}: is a named pipe (FIFO), not an image`);
  });
});

describe.skipIf(!posix)('the CLI, given a named pipe where it reads a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-special-cli-'));
  const pipe = join(dir, 'pipe');
  mkfifo(pipe);
  const archPipe = join(dir, 'arch.json');
  mkfifo(archPipe);
  const idx = join(dir, 'idx');
  mkdirSync(idx);
  const sample = new URL('../data/mnist-sample/', import.meta.url).pathname;
  for (const f of ['train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) copyFileSync(join(sample, f), join(idx, f));
  mkfifo(join(idx, 'train-images-idx3-ubyte'));
  const image = join(dir, 'digit.png');
  writeFileSync(image, png(28));

  // Each command must end with its one-line error; the 60 s bound only stops a command that
  // would otherwise wait on the pipe for ever (one that works ends in about a second).
  it.each([
    ['eval', [pipe], `${pipe}: is a named pipe (FIFO), not a model file (only regular files are read)`],
    ['predict (the model)', [pipe, image], `${pipe}: is a named pipe (FIFO), not a model file`],
    ['predict (the image)', [join(dir, 'model.cnnw'), pipe], `${pipe}: is a named pipe (FIFO), not a PNG, JPEG or PGM image`],
    ['serve', [pipe, '--port', '0'], `${pipe}: is a named pipe (FIFO), not a model file`],
    ['import', [pipe], `${pipe}: is a named pipe (FIFO), not an ONNX file`],
    ['train (an IDX file)', ['--dataset', idx, '--epochs', '1'], `${join(idx, 'train-images-idx3-ubyte')}: is a named pipe (FIFO), not an IDX file`],
    ['train (an architecture)', ['--model', archPipe], `${archPipe}: is a named pipe (FIFO), not an architecture (JSON) file`],
  ])('%s: exit 1 with one line naming the pipe', (name, args, message) => {
    const cmd = name.split(' ')[0];
    const r = spawnSync(process.execPath, [bin, cmd, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir });
    expect(r.signal, `${name} did not end: ${r.stderr}`).toBe(null);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(message);
  }, 90_000);
});
