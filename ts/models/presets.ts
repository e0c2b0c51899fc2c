/**
 * Named architectures with their training recipes, from the seed notebooks the
 * project started from. `createPreset(name)` builds the model; `recipe` holds the
 * defaults `cnn-wasm train` uses.
 */
import type { Backend } from '../backend/load.js';
import { constant, normal } from '../init.js';
import { batchNormalization, conv2d, dense, dropout, flatten, layerFromConfig, maxPooling2d, relu, zeroPadding2d } from '../layers/index.js';
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

const sgdRecipe = (lr: OptimizerConfig['learningRate'], weightDecay = 0, weightDecayOn: 'all' | 'kernels' = 'all'): OptimizerConfig =>
  ({ kind: 'sgd', learningRate: lr, momentum: 0.9, nesterov: false, weightDecay, weightDecayOn });

/** Seeds 000 and 004 feed x / 255 (no mean or std). */
const UNIT_SCALE: Normalization = { scale: 1 / 255, mean: 0, std: 1 };
/** Seeds 002 and 003 feed x / 255 - 0.5. */
const CENTRED_UNIT: Normalization = { scale: 1 / 255, mean: 0.5, std: 1 };

const PRESETS: Record<string, Preset> = {
  'lenet5-bn': {
    description: 'seed 001: LeNet-5 with batch norm and dropout: pad 28->32, conv6 5x5-BN-relu-pool, conv16 5x5-BN-relu-pool, conv120 5x5-BN-relu, ' +
      'dense84-relu-dropout(keep .9), dense10; SGD momentum 0.9, weight decay 4e-4, lr 0.1 * 0.9^(step/30), batch 128. ' +
      "Differs, to follow PyTorch's conventions so results compare with it: PyTorch's default init (the seed: He normal, zero biases; " +
      "measured over 10 inits on the sample, He lands 0.2% lower in PyTorch too), PyTorch's coupled weight decay and momentum " +
      '(the seed: w *= 1 - 4e-4 each step, m = 0.9m - lr g), batch norm eps 1e-5 with unbiased running variance (the seed: 1e-8, biased, ' +
      'first batch sets the running statistics); 3 epochs on the sample, where the seed ran 1 on full MNIST',
    // Padding with the normalised background equals padding the raw image
    // before normalising, as the seed did.
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
    description: 'seed 000: conv5x5(4, same)-relu, conv5x5(4, same)-relu, pool, conv3x3(8, same)-relu, conv3x3(16, same)-relu, pool, dense128-relu, dense10; ' +
      "the seed's init (conv 0.5*N(0,1), bias 0.15; dense 0.1*N(0,1), bias 1.15), input x/255, L2 lambda 2 over the batch on the weights " +
      '(weight decay 2/128 on kernels), momentum 0.9 (v = 0.9v + g, w -= 1e-3 v), batch 128, 1 epoch',
    layers: () => {
      const c = (filters: number, k: number) => conv2d({ filters, kernelSize: k, padding: 'same', activation: 'relu', kernelInitializer: normal(0.5), biasInitializer: constant(0.15) });
      const d = (units: number, activation: 'relu' | 'linear') => dense({ units, activation, kernelInitializer: normal(0.1), biasInitializer: constant(1.15) });
      return [
        c(4, 5), c(4, 5), maxPooling2d({ poolSize: 2 }),
        c(8, 3), c(16, 3), maxPooling2d({ poolSize: 2 }),
        flatten(),
        d(128, 'relu'),
        d(10, 'linear'),
      ];
    },
    recipe: { optimizer: sgdRecipe(0.001, 2 / 128, 'kernels'), batchSize: 128, epochs: 1, normalization: UNIT_SCALE },
  },
  simple: {
    description: 'seeds 002/003: conv8 3x3 (valid)-relu-maxpool, dense10, input x/255 - 0.5. ' +
      "Differs: 002 has no relu (003 has); both seeds train per image (002) or on the full batch (003) with plain SGD, here minibatches of 64 " +
      'with momentum 0.9 (per-image steps waste the wasm kernels, full-batch GD needs thousands of steps); He init instead of randn/9 and randn/3',
    layers: () => [conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }), maxPooling2d({ poolSize: 2 }), flatten(), dense({ units: 10 })],
    recipe: { optimizer: sgdRecipe(0.01), batchSize: 64, epochs: 3, normalization: CENTRED_UNIT },
  },
  'dense-head': {
    description: 'seed 004: conv5 3x3 (valid)-relu, dense 3380->100-relu (He init), dropout 0.05, dense10, input x/255. ' +
      'Differs: the seed trains per image with lr 0.1 for 100 epochs, here minibatches of 64 with momentum 0.9 (the same step size in effect); ' +
      'its conv has one N(0,1) bias per output pixel and N(0,1) kernels, here one N(0,1) bias per filter and He-initialised kernels',
    layers: () => [
      conv2d({ filters: 5, kernelSize: 3, activation: 'relu', biasInitializer: normal(1) }), flatten(),
      dense({ units: 100, activation: 'relu' }), dropout({ rate: 0.05 }),
      dense({ units: 10 }),
    ],
    recipe: { optimizer: sgdRecipe(0.01), batchSize: 64, epochs: 3, normalization: UNIT_SCALE },
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

/**
 * Builds a preset (for 1x28x28 inputs, or `inputShape` [C, H, W]: the
 * layers infer their shapes, so colour and other sizes work as long as the
 * convolutions fit) with `classes` outputs (default 10); returns the model
 * and its training recipe.
 */
export function createPreset(name: string, o: { backend?: Backend; seed?: number; inputShape?: readonly number[]; classes?: number } = {}): { model: Sequential; recipe: Recipe } {
  const p = lookup(name);
  const classes = o.classes ?? 10;
  const layers = p.layers();
  // The last layer is the classifier: dense({ units: 10 }) becomes `classes` units.
  const last = layers[layers.length - 1];
  if (classes !== 10) layers[layers.length - 1] = layerFromConfig({ ...last.config(), units: classes });
  let model: Sequential;
  try {
    model = new Sequential(layers, { inputShape: [...(o.inputShape ?? [1, 28, 28])], classes, backend: o.backend, seed: o.seed ?? 1, normalization: p.recipe.normalization });
  } catch (e) {
    throw new Error(`preset ${name} does not fit inputs of shape ${JSON.stringify(o.inputShape)}: ${(e as Error).message}`);
  }
  return { model, recipe: presetRecipe(name) };
}
