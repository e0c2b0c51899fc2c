/** Model files at Node paths: saved atomically, loaded with errors that name the path and the problem. */
import type { Backend } from './backend/load.js';
import { readFileCapped, writeFileAtomic } from './io/files.js';
import { ModelFileError } from './io/modelfile.js';
import { deserializeModel, serializeModel, type LoadedModel } from './model-file.js';
import type { Sequential } from './model.js';
import type { Optimizer } from './optim/optimizer.js';

/** Saves a model (optionally with optimiser state for resuming) to `path`, atomically. */
export function saveModel(model: Sequential, path: string, o: { optimizer?: Optimizer; metadata?: Record<string, unknown> } = {}): void {
  writeFileAtomic(path, serializeModel(model, o));
}

/**
 * Loads a model file at a path (synchronously); errors name the path and the
 * problem. URLs and `indexeddb://` go to the asynchronous loadModel of the
 * main entry ('cnn-wasm').
 */
export function loadModel(path: string, o: { backend?: Backend; maxBytes?: number } = {}): LoadedModel {
  if (/^(indexeddb|downloads|https?|blob|data):/i.test(path)) {
    throw new ModelFileError(`${path}: loadModel of 'cnn-wasm/node' reads a file path; for a URL or indexeddb://, await loadModel from 'cnn-wasm'`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileCapped(path, 'a model file', o.maxBytes);
  } catch (e) {
    throw new ModelFileError((e as Error).message);
  }
  return deserializeModel(bytes, { ...o, source: path });
}
