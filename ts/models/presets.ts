/**
 * Named architectures with their training recipes, from the seed notebooks the
 * project started from. `createPreset(name)` builds the model; `recipe` holds the
 * defaults `cnn-wasm train` uses.
 */
import type { Backend } from '../backend/load.js';
import { constant, normal } from '../init.js';
import { batchNormalization, conv2d, dense, dropout, flatten, maxPooling2d, relu, zeroPadding2d } from '../layers/index.js';
import type { Layer } from '../layers/layer.js';
import { MNIST_NORMALIZATION, Sequential, type Normalization } from '../model.js';
import type { OptimizerConfig } from '../optim/optimizer.js';
import { stepDecay } from '../optim/schedule.js';

/** Defaults for training a preset. */
export interface Recipe {
  optimizer: OptimizerConfig;
  batchSize: number;
  epochs: number;
  normalization: Normalization;
}

interface Preset {
  description: string;
  layers(): Layer[];
  recipe: Recipe;
}

const sgdRecipe = (lr: OptimizerConfig['learningRate'], weightDecay = 0): OptimizerConfig => ({ kind: 'sgd', learningRate: lr, momentum: 0.9, nesterov: false, weightDecay });

const PRESETS: Record<string, Preset> = {
  'lenet5-bn': {
    description: 'LeNet-5 with batch norm and dropout (seed 001): pad 28->32, conv6 5x5-BN-relu-pool, conv16 5x5-BN-relu-pool, conv120 5x5-BN-relu, dense84-relu-dropout(keep .9), dense10',
    // PyTorch's default init, as the seed used; padding with the normalised
    // background equals padding the raw image before normalising, as the seed did.
    layers: () => {
      const t = { kernelInitializer: 'torchDefault', biasInitializer: 'torchDefault' } as const;
      return [
        zeroPadding2d({ padding: 2, value: -MNIST_NORMALIZATION.mean / MNIST_NORMALIZATION.std }),
        conv2d({ filters: 6, kernelSize: 5, ...t }), batchNormalization(), relu(), maxPooling2d({ poolSize: 2 }),
        conv2d({ filters: 16, kernelSize: 5, ...t }), batchNormalization(), relu(), maxPooling2d({ poolSize: 2 }),
        conv2d({ filters: 120, kernelSize: 5, ...t }), batchNormalization(), relu(),
        flatten(),
        dense({ units: 84, activation: 'relu', ...t }), dropout({ rate: 0.1 }),
        dense({ units: 10, ...t }),
      ];
    },
    recipe: { optimizer: sgdRecipe(stepDecay(0.1, 0.9, 30), 4e-4), batchSize: 128, epochs: 3, normalization: MNIST_NORMALIZATION },
  },
  lenet5: {
    description: 'LeNet-5 without batch norm or dropout: pad 28->32, conv6 5x5-relu-pool, conv16 5x5-relu-pool, conv120 5x5-relu, dense84-relu, dense10',
    layers: () => [
      zeroPadding2d({ padding: 2 }),
      conv2d({ filters: 6, kernelSize: 5, activation: 'relu' }), maxPooling2d({ poolSize: 2 }),
      conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }), maxPooling2d({ poolSize: 2 }),
      conv2d({ filters: 120, kernelSize: 5, activation: 'relu' }),
      flatten(),
      dense({ units: 84, activation: 'relu' }),
      dense({ units: 10 }),
    ],
    recipe: { optimizer: sgdRecipe(0.02), batchSize: 128, epochs: 3, normalization: MNIST_NORMALIZATION },
  },
  deep4: {
    description: "four 3x3 conv layers (seed 000) with the seed's own init: conv 0.5*N(0,1), bias 0.15; dense 0.1*N(0,1), bias 1.15",
    layers: () => {
      const c = (filters: number) => conv2d({ filters, kernelSize: 3, activation: 'relu', kernelInitializer: normal(0.5), biasInitializer: constant(0.15) });
      return [
        c(8), c(8), maxPooling2d({ poolSize: 2 }),
        c(16), c(16), maxPooling2d({ poolSize: 2 }),
        flatten(),
        dense({ units: 128, activation: 'relu', kernelInitializer: normal(0.1), biasInitializer: constant(1.15) }),
        dense({ units: 10, kernelInitializer: normal(0.1), biasInitializer: constant(1.15) }),
      ];
    },
    recipe: { optimizer: sgdRecipe(0.001), batchSize: 64, epochs: 3, normalization: MNIST_NORMALIZATION },
  },
  simple: {
    description: 'conv8 3x3-relu-maxpool, dense10 (seeds 002/003)',
    layers: () => [conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 10 })],
    recipe: { optimizer: sgdRecipe(0.01), batchSize: 64, epochs: 3, normalization: MNIST_NORMALIZATION },
  },
  'dense-head': {
    description: 'conv5 3x3-relu, dense100-relu-dropout(.05), dense10 (seed 004)',
    layers: () => [
      conv2d({ filters: 5, kernelSize: 3, activation: 'relu' }), flatten(),
      dense({ units: 100, activation: 'relu' }), dropout({ rate: 0.05 }),
      dense({ units: 10 }),
    ],
    recipe: { optimizer: sgdRecipe(0.01), batchSize: 64, epochs: 3, normalization: MNIST_NORMALIZATION },
  },
};

/** Names of the presets. */
export const PRESET_NAMES = Object.keys(PRESETS);

/** One-line description of a preset. */
export function presetDescription(name: string): string {
  return lookup(name).description;
}

function lookup(name: string): Preset {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown model '${name}' (valid: ${PRESET_NAMES.join(', ')})`);
  return p;
}

/** The training recipe of a preset (a copy). */
export function presetRecipe(name: string): Recipe {
  return structuredClone(lookup(name).recipe);
}

/** Builds a preset for 1x28x28 inputs; returns the model and its training recipe. */
export function createPreset(name: string, o: { backend?: Backend; seed?: number } = {}): { model: Sequential; recipe: Recipe } {
  const p = lookup(name);
  const model = new Sequential(p.layers(), { inputShape: [1, 28, 28], backend: o.backend, seed: o.seed ?? 1, normalization: p.recipe.normalization });
  return { model, recipe: presetRecipe(name) };
}
