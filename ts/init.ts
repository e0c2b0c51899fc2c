/** Weight initialisers. fanIn/fanOut follow Keras: conv fanIn = C*KH*KW, fanOut = F*KH*KW. */
import type { Rng } from './rng.js';

/** A JSON-serialisable initialiser description. */
export type Initializer =
  | 'heNormal'
  | 'glorotUniform'
  | 'zeros'
  /** PyTorch's default for conv/linear weights and biases: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
  | 'torchDefault'
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; limit: number };

/** N(mean, std^2) initialiser. */
export function normal(std: number, mean = 0): Initializer {
  return { kind: 'normal', std, mean };
}

/** Every value = `value`. */
export function constant(value: number): Initializer {
  return { kind: 'constant', value };
}

/** U(-limit, limit). */
export function uniform(limit: number): Initializer {
  return { kind: 'uniform', limit };
}

/** Fills `out` per the initialiser. */
export function initialize(init: Initializer, out: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  if (init === 'zeros') {
    out.fill(0);
  } else if (init === 'heNormal') {
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
  } else if (init === 'torchDefault') {
    const limit = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
  } else if (init === 'glorotUniform') {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * limit;
  } else if (init.kind === 'normal') {
    for (let i = 0; i < out.length; i++) out[i] = (init.mean ?? 0) + rng.normal() * init.std;
  } else if (init.kind === 'constant') {
    out.fill(init.value);
  } else if (init.kind === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = (rng.uniform() * 2 - 1) * init.limit;
  } else {
    throw new Error(`unknown initializer ${JSON.stringify(init)}`);
  }
}

/** Validates an initialiser read from user input or a model file. */
export function checkInitializer(init: unknown, where: string): Initializer {
  if (init === 'heNormal' || init === 'glorotUniform' || init === 'zeros' || init === 'torchDefault') return init;
  if (typeof init === 'object' && init !== null) {
    const o = init as Record<string, unknown>;
    if (o.kind === 'normal' && typeof o.std === 'number' && o.std >= 0) return init as Initializer;
    if (o.kind === 'constant' && typeof o.value === 'number') return init as Initializer;
    if (o.kind === 'uniform' && typeof o.limit === 'number' && o.limit >= 0) return init as Initializer;
  }
  throw new Error(`${where}: invalid initializer ${JSON.stringify(init)} (valid: 'heNormal', 'glorotUniform', 'zeros', 'torchDefault', normal(std), constant(v), uniform(limit))`);
}
