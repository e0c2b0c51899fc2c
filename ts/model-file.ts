/**
 * Model files as models: a Sequential written to the model file's bytes and
 * read back from them (browser-safe). The format itself, over the engine's
 * spec and tensors, is io/modelfile.ts; Node's file paths are model-file-node.ts.
 */
import type { Backend } from './backend/load.js';
import { readFromIndexedDb, storageScheme } from './io/browser-storage.js';
import { decodeModelFile, encodeModelFile, ModelFileError } from './io/modelfile.js';
import { isNode } from './env.js';
import { readBodyCapped } from './io/streams.js';
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

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  backend?: Backend;
  /** Largest model file accepted, in bytes (default 256 MiB): a larger download or file is refused before it is read whole. */
  maxBytes?: number;
  /** Cancels a download. */
  signal?: AbortSignal;
}

export const DEFAULT_MAX_MODEL_BYTES = 256 * 2 ** 20;

/**
 * Loads a model file from wherever it is: `indexeddb://name` (saved by
 * `model.save('indexeddb://name')`), a URL (fetched: http(s), blob:, data:,
 * or relative to the page), a File or Blob, bytes, or in Node a file path.
 * Errors name the source and the problem.
 */
export async function loadModel(source: string | URL | Blob | ArrayBuffer | Uint8Array, o: LoadModelOptions = {}): Promise<LoadedModel> {
  const max = o.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  if (!(Number.isInteger(max) && max > 0)) throw new Error(`loadModel: maxBytes must be a positive integer, got ${JSON.stringify(o.maxBytes)}`);
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return deserializeModel(new Uint8Array(source), { backend: o.backend, source: 'the given bytes' });
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const what = typeof File !== 'undefined' && source instanceof File ? source.name : 'the given Blob';
    if (source.size > max) throw new ModelFileError(`${what}: ${source.size.toLocaleString('en-US')} bytes, more than the ${max.toLocaleString('en-US')} a model file may have (maxBytes)`);
    return deserializeModel(new Uint8Array(await source.arrayBuffer()), { backend: o.backend, source: what });
  }
  const text = String(source);
  const stored = typeof source === 'string' ? storageScheme(source) : null;
  if (stored?.scheme === 'downloads') throw new Error(`${text}: downloads are saved, not loaded; load the downloaded file (a File from an <input type=file>) or its URL`);
  if (stored?.scheme === 'indexeddb') return deserializeModel(await readFromIndexedDb(text), { backend: o.backend, source: text });
  const isUrl = source instanceof URL || /^(https?|blob|data):/i.test(text);
  if (isNode && !isUrl) {
    // A file path (or file: URL); a computed specifier keeps node:fs out of browser bundles.
    const name = './io/files.js';
    const files = (await import(/* @vite-ignore */ /* webpackIgnore: true */ new URL(/* webpackIgnore: true */ name, import.meta.url).href)) as typeof import('./io/files.js');
    const path = text.startsWith('file:') ? new URL(text).pathname : text;
    let bytes: Uint8Array;
    try {
      bytes = files.readFileCapped(path, 'a model file', max);
    } catch (e) {
      throw new ModelFileError((e as Error).message);
    }
    return deserializeModel(bytes, { backend: o.backend, source: path });
  }
  let res: Response;
  try {
    res = await fetch(source instanceof URL ? source : text, { signal: o.signal });
  } catch (e) {
    throw new ModelFileError(`${text}: could not fetch the model (${(e as Error).message})`);
  }
  if (!res.ok) throw new ModelFileError(`${text}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  return deserializeModel(await readBodyCapped(res, text, max, 'a model file', (m) => new ModelFileError(m)), { backend: o.backend, source: text });
}
