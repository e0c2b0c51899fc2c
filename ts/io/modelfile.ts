/**
 * The model file: one binary file holding architecture, weights, normalisation
 * and optionally optimiser state. Specified in docs/model-format.md.
 *
 *   0   8 bytes  magic "CNNWASM\0"
 *   8   u32 LE   format version (1)
 *   12  u32 LE   header length H (a multiple of 4)
 *   16  H bytes  header: UTF-8 JSON, padded with spaces
 *   16+H         tensor data: f32 little-endian, in header order
 *   end-4 u32 LE CRC-32 of every byte before it
 */
import type { Backend } from '../backend/load.js';
import { layerFromConfig } from '../layers/index.js';
import { Net } from '../engine/net.js';
import type { Normalization } from '../engine/types.js';
import { optimizerFromConfig, type Optimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { VERSION } from '../version.js';
import { crc32 } from './crc32.js';

export const MAGIC = 'CNNWASM\0';
export const FORMAT_VERSION = 1;

/** A problem with a model file; the message names the file and what is wrong. */
export class ModelFileError extends Error {}

/** A model whose weights are not all finite: it is never written. */
export class NonFiniteModelError extends Error {}

interface TensorEntry { name: string; shape: number[]; offset: number; length: number }
interface SlotEntry { param: string; slot: string; offset: number; length: number }

/** The JSON header. */
export interface ModelHeader {
  format: 'cnn-wasm-model';
  version: number;
  createdBy: string;
  /**
   * The kernels build the model ran on when it was saved ('relaxed', 'simd' or
   * 'scalar'): a model trained on the relaxed build has other bits than one
   * trained on the SIMD build from the same seed. Missing in older files.
   */
  backend?: string;
  model: { inputShape: number[]; classes: number; seed: number; normalization: Normalization; layers: Record<string, unknown>[] };
  tensors: TensorEntry[];
  optimizer: null | { config: OptimizerConfig; iterations: number; slots: SlotEntry[] };
  /** Free-form information (preset name, data set, epochs, accuracy...). */
  metadata: Record<string, unknown>;
}

/** Serialises an engine's spec and tensors (and optionally the optimiser state) to the model file's bytes. */
export function encodeModelFile(model: Net, o: { optimizer?: Optimizer; metadata?: Record<string, unknown> } = {}): Uint8Array {
  const tensors: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const p of model.params()) {
    tensors.push({ name: p.name, shape: p.shape, offset, length: p.value.length });
    chunks.push(p.value.view);
    offset += p.value.length;
  }
  let optimizer: ModelHeader['optimizer'] = null;
  if (o.optimizer) {
    const slots: SlotEntry[] = [];
    for (const s of o.optimizer.state()) {
      slots.push({ param: s.param, slot: s.slot, offset, length: s.value.length });
      chunks.push(s.value.view);
      offset += s.value.length;
    }
    optimizer = { config: o.optimizer.config(), iterations: o.optimizer.iterations, slots };
  }
  const header: ModelHeader = {
    format: 'cnn-wasm-model', version: FORMAT_VERSION, createdBy: `cnn-wasm ${VERSION}`, backend: model.backend.name,
    model: { inputShape: model.inputShape, classes: model.classes, seed: model.seed, normalization: model.normalization, layers: model.layers.map((l) => l.config()) },
    tensors, optimizer, metadata: o.metadata ?? {},
  };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const total = 16 + json.length + offset * 4 + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  let pos = 16 + json.length;
  const names = [...tensors.map((t) => `tensor ${t.name}`), ...(optimizer?.slots ?? []).map((s) => `optimizer state ${s.param}#${s.slot}`)];
  chunks.forEach((c, k) => {
    for (let i = 0; i < c.length; i++, pos += 4) {
      if (!Number.isFinite(c[i])) throw new NonFiniteModelError(`cannot save the model: ${names[k]} holds ${c[i]} at index ${i} (training diverged)`);
      dv.setFloat32(pos, c[i], true);
    }
  });
  dv.setUint32(pos, crc32(out.subarray(0, pos)), true);
  return out;
}

/** Reads and checks the header (magic, version, sizes, checksum) without building a model. */
export function readModelHeader(bytes: Uint8Array, source = 'model file'): { header: ModelHeader; data: DataView; dataStart: number } {
  const fail = (m: string): never => {
    throw new ModelFileError(`${source}: ${m}`);
  };
  if (bytes.length < 20) fail(`too short to be a cnn-wasm model (${bytes.length} bytes)`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC) fail(`not a cnn-wasm model file (bad magic ${JSON.stringify(magic)})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) fail(`format version ${version} is not supported (this cnn-wasm reads version ${FORMAT_VERSION})`);
  const stored = dv.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) fail(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is corrupt or truncated`);
  const hlen = dv.getUint32(12, true);
  if (hlen % 4 !== 0 || 16 + hlen > bytes.length - 4) fail(`header length ${hlen} is invalid`);
  let header: ModelHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + hlen)));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header?.format !== 'cnn-wasm-model' || !header.model || !Array.isArray(header.tensors)) fail('header lacks format/model/tensors');
  const floats = (bytes.length - 4 - 16 - hlen) / 4;
  const entries = [...header.tensors, ...(header.optimizer?.slots ?? [])];
  for (const t of entries) {
    if (!Number.isInteger(t.offset) || !Number.isInteger(t.length) || t.offset < 0 || t.length < 0 || t.offset + t.length > floats) {
      fail(`tensor ${JSON.stringify((t as TensorEntry).name ?? (t as SlotEntry).param)} lies outside the data (${floats} floats)`);
    }
  }
  return { header, data: dv, dataStart: 16 + hlen };
}

/** Reads a tensor's floats; a NaN or infinity is refused with the tensor's name. */
function readFloats(data: DataView, start: number, offset: number, length: number, fail: (m: string) => never, what: string): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v = data.getFloat32(start + (offset + i) * 4, true);
    if (!Number.isFinite(v)) fail(`${what} holds ${v} at index ${i}: the model diverged or the file is damaged`);
    out[i] = v;
  }
  return out;
}

/**
 * Values one example's activations may take in a loaded model (all layers'
 * outputs added up): 64 MiB of f32. A file declaring a larger network is
 * refused before anything is allocated for it.
 */
export const MAX_ACTIVATION_VALUES = 16 * 1024 * 1024;

/** The class names a model file's metadata holds (one string per class), or null. */
export function classNamesOf(metadata: Record<string, unknown>, classes: number): string[] | null {
  const n = metadata.classNames;
  return Array.isArray(n) && n.length === classes && n.every((x) => typeof x === 'string') ? (n as string[]) : null;
}

/** A decoded model file: the engine it describes, built and loaded. */
export interface DecodedModelFile {
  net: Net;
  /** The optimiser with its state, when the file holds one. */
  optimizer: Optimizer | null;
  metadata: Record<string, unknown>;
}

/** Rebuilds an engine (and optimiser) from a model file's bytes, checking every tensor's name and shape. */
export function decodeModelFile(bytes: Uint8Array, o: { backend?: Backend; source?: string } = {}): DecodedModelFile {
  const source = o.source ?? 'model file';
  const fail = (m: string): never => {
    throw new ModelFileError(`${source}: ${m}`);
  };
  const { header, data, dataStart } = readModelHeader(bytes, source);
  const m = header.model;
  if (!Array.isArray(m.layers) || !Array.isArray(m.inputShape)) fail('header lacks model.layers or model.inputShape');
  const inputValues = m.inputShape.reduce((a: number, b: number) => a * b, 1);
  if (!(inputValues <= MAX_ACTIVATION_VALUES)) fail(`input shape ${JSON.stringify(m.inputShape)} has more than ${MAX_ACTIVATION_VALUES.toLocaleString('en-US')} values per example`);
  // An optimizer that cannot be made is found before the model is built.
  if (header.optimizer) {
    try {
      optimizerFromConfig(header.optimizer.config).dispose();
    } catch (e) {
      fail(`optimizer state cannot be restored: ${(e as Error).message}`);
    }
  }
  const tensorValues = header.tensors.reduce((s, t) => s + t.length, 0);
  let model: Net;
  try {
    model = new Net(m.layers.map(layerFromConfig), {
      inputShape: m.inputShape, classes: m.classes, seed: m.seed, normalization: m.normalization, backend: o.backend,
      // Slack keeps small mismatches for the tensor-by-tensor check below, which names both shapes.
      paramBudget: { values: tensorValues + Math.max(tensorValues, 1 << 20), held: tensorValues, source: 'the file' },
    });
  } catch (e) {
    throw new ModelFileError(`${source}: the architecture cannot be built: ${(e as Error).message}`);
  }
  try {
    const activations = model.layers.reduce((s, l) => s + l.outputSize, 0);
    if (activations > MAX_ACTIVATION_VALUES) {
      fail(`the architecture needs ${activations.toLocaleString('en-US')} activation values per example, more than the limit of ${MAX_ACTIVATION_VALUES.toLocaleString('en-US')}`);
    }
    const params = model.params();
    if (params.length !== header.tensors.length) {
      throw new ModelFileError(`${source}: holds ${header.tensors.length} tensors, the architecture has ${params.length}`);
    }
    params.forEach((p, i) => {
      const t = header.tensors[i];
      if (t.name !== p.name || JSON.stringify(t.shape) !== JSON.stringify(p.shape) || t.length !== p.value.length) {
        throw new ModelFileError(`${source}: tensor ${i} is ${t.name} ${JSON.stringify(t.shape)}, the architecture expects ${p.name} ${JSON.stringify(p.shape)}`);
      }
      p.value.set(readFloats(data, dataStart, t.offset, t.length, fail, `tensor ${t.name}`));
    });
    let optimizer: Optimizer | null = null;
    if (header.optimizer) {
      optimizer = optimizerFromConfig(header.optimizer.config);
      const opt = optimizer;
      const byName = new Map(params.map((p) => [p.name, p]));
      optimizer.loadState(model.backend, header.optimizer.iterations, header.optimizer.slots.map((s) => {
        const p = byName.get(s.param);
        if (!p || p.value.length !== s.length) {
          opt.dispose();
          fail(`optimizer state ${s.param}#${s.slot} does not match a parameter`);
        }
        let values: Float32Array;
        try {
          values = readFloats(data, dataStart, s.offset, s.length, fail, `optimizer state ${s.param}#${s.slot}`);
        } catch (e) {
          opt.dispose();
          throw e;
        }
        return { param: s.param, slot: s.slot, data: values };
      }));
    }
    return { net: model, optimizer, metadata: header.metadata ?? {} };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
