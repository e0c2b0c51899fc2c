/**
 * Model files as models: a Sequential written to the model file's bytes and
 * read back from them (browser-safe). The format itself, over the engine's
 * spec and tensors, is io/modelfile.ts; Node's file paths are model-file-node.ts.
 */
import type { Backend } from './backend/load.js';
import { decodeModelFile, encodeModelFile } from './io/modelfile.js';
import { Sequential } from './model.js';
import type { Optimizer } from './optim/optimizer.js';

/** A loaded model file. */
export interface LoadedModel {
  model: Sequential;
  /** The optimiser with its state, when the file holds one. */
  optimizer: Optimizer | null;
  metadata: Record<string, unknown>;
}

/** Serialises a model (and optionally its optimiser state) to the model file's bytes. */
export function serializeModel(model: Sequential, o: { optimizer?: Optimizer; metadata?: Record<string, unknown> } = {}): Uint8Array {
  return encodeModelFile(model.net, o);
}

/** Rebuilds a model (and optimiser) from a model file's bytes, checking every tensor's name and shape. */
export function deserializeModel(bytes: Uint8Array, o: { backend?: Backend; source?: string } = {}): LoadedModel {
  const { net, optimizer, metadata } = decodeModelFile(bytes, o);
  return { model: Sequential.fromNet(net), optimizer, metadata };
}
