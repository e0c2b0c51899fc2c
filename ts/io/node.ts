/** Saving and loading model files in Node, atomically. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Backend } from '../backend/load.js';
import type { Sequential } from '../model.js';
import type { Optimizer } from '../optim/optimizer.js';
import { deserializeModel, ModelFileError, serializeModel, type LoadedModel } from './modelfile.js';

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory is
 * written and fsynced, then renamed over `path`. A crash leaves the old file intact.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
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
  }
}

/** Saves a model (optionally with optimiser state for resuming) to `path`, atomically. */
export function saveModel(model: Sequential, path: string, o: { optimizer?: Optimizer; metadata?: Record<string, unknown> } = {}): void {
  writeFileAtomic(path, serializeModel(model, o));
}

/** Loads a model file; errors name the path and the problem. */
export function loadModel(path: string, o: { backend?: Backend } = {}): LoadedModel {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ModelFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return deserializeModel(bytes, { ...o, source: path });
}
