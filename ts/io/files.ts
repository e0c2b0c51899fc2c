/** Files in Node: atomic writes, checks before long work, and read errors in words. Knows nothing of models. */
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, type Stats, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeStaleTemps, tempPathFor, trackTemp } from './tempfiles.js';

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory is
 * written and fsynced, then renamed over `path`. A crash leaves the old file intact
 * and at most one temporary file, which the next write of `path` removes.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  removeStaleTemps(path);
  const tmp = tempPathFor(path, 'tmp');
  const untrack = trackTemp(tmp);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w', 0o644);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new Error(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim());
  } finally {
    untrack();
  }
}

/**
 * Checks that `path` can be written as a file before long work produces it:
 * its directory exists and takes new files, and it is not a directory. Throws
 * an Error naming the path and the problem.
 */
export function checkWritable(path: string, what = 'output file'): void {
  const dir = dirname(path);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new Error(`${what} ${path}: directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`${what} ${path}: ${dir} is not a directory`);
  try {
    if (statSync(path).isDirectory()) throw new Error(`${what} ${path}: is a directory; give a file name such as ${join(path, 'model.cnnw')}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Creating a file is the only test that also holds for root and read-only mounts.
  const probe = tempPathFor(path, 'tmp');
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    throw new Error(`${what} ${path}: cannot write in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Why a file could not be read, in words that say what to do (ENOENT, EISDIR, EACCES, ...); `what` is the kind of file with its article ('a model file'). */
export function readProblem(path: string, e: unknown, what: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${path}: no such file (give the path of ${what})`;
  if (code === 'EISDIR') return `${path}: is a directory, not ${what}`;
  if (code === 'EACCES' || code === 'EPERM') return `${path}: permission denied: this user cannot read it`;
  return `${path}: cannot read (${code ?? (e as Error).message})`;
}

/** What a file that is not a regular file is, in words ('a named pipe (FIFO)'), or null for a regular file. */
function specialKind(st: Stats): string | null {
  if (st.isFile()) return null;
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'something other than a regular file';
}

/**
 * A regular file's bytes, in bounded time and memory: opened without waiting
 * (a named pipe would block until some writer came), refused unless it is a
 * regular file (a device such as /dev/zero never ends), refused by size before
 * anything is allocated when it is larger than `maxBytes`, and read up to the
 * size it had when opened. Errors say why in readProblem's words; `what` is
 * the kind of file with its article ('a model file').
 */
export function readFileCapped(path: string, what: string, maxBytes?: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new Error(readProblem(path, e, what));
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error(`${path}: is a directory, not ${what}`);
    const kind = specialKind(st);
    if (kind) throw new Error(`${path}: is ${kind}, not ${what} (only regular files are read)`);
    if (maxBytes !== undefined && st.size > maxBytes) throw new Error(`${path}: ${st.size.toLocaleString('en-US')} bytes, more than the ${maxBytes.toLocaleString('en-US')} ${what} may have (maxBytes)`);
    const bytes = new Uint8Array(st.size);
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break; // shortened while read: what is there (the format's checks name what is missing)
      off += n;
    }
    return off === bytes.length ? bytes : bytes.subarray(0, off);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    throw new Error(readProblem(path, e, what));
  } finally {
    closeSync(fd);
  }
}
