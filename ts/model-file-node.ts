/** Model files at Node paths: saved atomically, loaded with errors that name the path and the problem. */
import { readFileSync } from 'node:fs';
import type { Backend } from './backend/load.js';
import { readProblem, writeFileAtomic } from './io/files.js';
import { ModelFileError } from './io/modelfile.js';
import { deserializeModel, serializeModel, type LoadedModel } from './model-file.js';
import type { Sequential } from './model.js';
import type { Optimizer } from './optim/optimizer.js';

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
    throw new ModelFileError(readProblem(path, e, 'a model file'));
  }
  return deserializeModel(bytes, { ...o, source: path });
}
