/**
 * A user's architecture in a small JSON file (`cnn-wasm train --model
 * arch.json`): the layers as layerFromConfig reads them, and optionally the
 * training recipe. Every layer option is checked by name, so a misspelt
 * option is an error instead of a silent default:
 *
 * ```json
 * { "layers": [
 *     { "kind": "conv2d", "filters": 16, "kernelSize": 3, "padding": "same", "activation": "relu" },
 *     { "kind": "maxPooling2d" },
 *     { "kind": "flatten" },
 *     { "kind": "dense", "units": 10 } ],
 *   "optimizer": { "kind": "adam", "learningRate": 0.001 },
 *   "batchSize": 64, "epochs": 5 }
 * ```
 */
import type { Backend } from '../backend/load.js';
import { layerFromConfig } from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import { MNIST_NORMALIZATION, Sequential } from '../model.js';
import { optimizerFromConfig, type OptimizerConfig } from '../optim/optimizer.js';
import type { Recipe } from './presets.js';

/** An architecture read from JSON: its layers' configs and its recipe. */
export interface Architecture {
  /** Each layer's config, as layerFromConfig reads it. */
  layers: Record<string, unknown>[];
  recipe: Recipe;
}

/** The least options that build a layer of each kind (to read which options the kind has). */
const PROBES: Record<string, Record<string, unknown>> = {
  conv2d: { filters: 1, kernelSize: 1 }, dense: { units: 1 }, maxPooling2d: {}, averagePooling2d: {},
  batchNormalization: {}, relu: {}, flatten: {}, dropout: { rate: 0.5 }, zeroPadding2d: { padding: 1 },
};

/** Largest number of layers an architecture file may hold. */
const MAX_LAYERS = 256;
const TOP_KEYS = ['layers', 'optimizer', 'batchSize', 'epochs'];

/** Builds one layer from its config, refusing options the layer does not have. */
function checkedLayer(c: unknown, i: number, source: string): Layer {
  const where = `${source}: layer ${i + 1}`;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error(`${where}: expected an object such as { "kind": "dense", "units": 10 }, got ${JSON.stringify(c)?.slice(0, 40)}`);
  const config = c as Record<string, unknown>;
  // The options a kind has are those its config() reports: read off a small layer of that kind.
  const probe = PROBES[String(config.kind)];
  if (probe) {
    const known = Object.keys(layerFromConfig({ kind: config.kind, ...probe }).config());
    const unknown = Object.keys(config).filter((k) => !known.includes(k));
    if (unknown.length) throw new Error(`${where} (${String(config.kind)}): unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (valid: ${known.filter((k) => k !== 'kind').join(', ')})`);
  }
  try {
    return layerFromConfig(config);
  } catch (e) {
    throw new Error(`${where} (${String(config.kind)}): ${(e as Error).message}`);
  }
}

/** Reads an architecture from JSON text (a file's contents); errors name `source` and the layer. */
export function parseArchitecture(text: string, source: string): Architecture {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const top = (Array.isArray(v) ? { layers: v } : v) as Record<string, unknown>;
  if (typeof top !== 'object' || top === null) throw new Error(`${source}: expected { "layers": [...] } or an array of layers`);
  const extra = Object.keys(top).filter((k) => !TOP_KEYS.includes(k));
  if (extra.length) throw new Error(`${source}: unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => JSON.stringify(k)).join(', ')} (valid: ${TOP_KEYS.join(', ')})`);
  const layers = top.layers;
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`${source}: "layers" must be a non-empty array of layer configs`);
  if (layers.length > MAX_LAYERS) throw new Error(`${source}: ${layers.length} layers, more than ${MAX_LAYERS}`);
  layers.forEach((c, i) => checkedLayer(c, i, source));
  const last = layers[layers.length - 1] as Record<string, unknown>;
  if (last.kind !== 'dense') throw new Error(`${source}: the last layer must be the classifier, a dense layer (its softmax is applied by the loss), not ${String(last.kind)}`);
  const int = (k: 'batchSize' | 'epochs', dflt: number, max: number) => {
    const x = top[k] ?? dflt;
    if (!Number.isInteger(x) || (x as number) < 1 || (x as number) > max) throw new Error(`${source}: "${k}" must be an integer from 1 to ${max.toLocaleString('en-US')}, got ${JSON.stringify(top[k])}`);
    return x as number;
  };
  const optimizer = (top.optimizer ?? { kind: 'adam', learningRate: 1e-3 }) as OptimizerConfig;
  try {
    optimizerFromConfig(optimizer).dispose(); // checked now, not after the data set is loaded
  } catch (e) {
    throw new Error(`${source}: "optimizer": ${(e as Error).message}`);
  }
  return {
    layers: layers as Record<string, unknown>[],
    recipe: { optimizer, batchSize: int('batchSize', 64, 65_536), epochs: int('epochs', 5, 10_000), normalization: MNIST_NORMALIZATION },
  };
}

/**
 * Builds a model of an architecture for inputs of `inputShape` with `classes`
 * outputs; the last dense layer must have that many units.
 */
export function createFromArchitecture(arch: Architecture, source: string, o: { backend?: Backend; seed?: number; inputShape?: readonly number[]; classes?: number } = {}): Sequential {
  const classes = o.classes ?? 10;
  const units = arch.layers[arch.layers.length - 1].units;
  if (units !== classes) throw new Error(`${source}: the last layer has ${JSON.stringify(units)} units; the data set has ${classes} classes`);
  const layers = arch.layers.map((c, i) => checkedLayer(c, i, source));
  try {
    return new Sequential(layers, { inputShape: [...(o.inputShape ?? [1, 28, 28])], classes, backend: o.backend, seed: o.seed ?? 1, normalization: arch.recipe.normalization });
  } catch (e) {
    throw new Error(`${source}: does not fit inputs of shape ${(o.inputShape ?? [1, 28, 28]).join('x')}: ${(e as Error).message}`);
  }
}
