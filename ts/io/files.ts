/** Files in Node: atomic writes, checks before long work, and read errors in words. Knows nothing of models. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
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

/** A file's bytes, refused by size before it is read when it is larger than `maxBytes`; errors say why in readProblem's words. */
export function readFileCapped(path: string, what: string, maxBytes?: number): Uint8Array {
  try {
    const size = statSync(path).size;
    if (maxBytes !== undefined && size > maxBytes) throw new Error(`${path}: ${size.toLocaleString('en-US')} bytes, more than the ${maxBytes.toLocaleString('en-US')} ${what} may have (maxBytes)`);
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    throw new Error(readProblem(path, e, what));
  }
}
