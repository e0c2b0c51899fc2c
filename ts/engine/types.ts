/** The data and weight types the engine and the model share. */
import type { Backend } from '../backend/load.js';
import type { ImageLike } from '../image/prepare.js';
import type { Shape } from '../layers/layer.js';

/**
 * How raw 0..255 pixels become network inputs: x = (pixel * scale - mean) / std,
 * with one mean and std for every channel or, as arrays, one per channel
 * (e.g. computed from a folder's training images).
 */
export interface Normalization {
  scale: number;
  mean: number | readonly number[];
  std: number | readonly number[];
}

/** A normalisation with one mean and std for every channel. */
export interface ScalarNormalization extends Normalization {
  mean: number;
  std: number;
}

/** Channel c's mean and std of a normalisation. */
export function channelStats(n: Normalization, c: number): { mean: number; std: number } {
  return { mean: typeof n.mean === 'number' ? n.mean : n.mean[c], std: typeof n.std === 'number' ? n.std : n.std[c] };
}

/** MNIST statistics used by seed 001: (x/255 - 0.1307) / 0.3081. */
export const MNIST_NORMALIZATION: ScalarNormalization = { scale: 1 / 255, mean: 0.1307, std: 0.3081 };

/**
 * Pixels as the library takes them, one value a pixel and channel, examples
 * back to back: u8 (0..255) is normalised with the model's
 * {@link Normalization}; f32 is used as given and must be finite. (Canvas
 * `ImageData.data` is RGBA, 4 values a pixel: pass the ImageData itself to
 * `predict`, see {@link PredictInput}.)
 */
export type Images = Uint8Array | Float32Array;

/**
 * What `predict` takes: {@link Images}, or a picture (canvas `ImageData`, or
 * any `{ data, width, height }` of RGBA values) or a list of them, prepared
 * as `cnn-wasm predict` prepares an image file: MNIST's centring for a
 * 1x28x28 (digit) model, else resized to the model's input (gray or RGB).
 */
export type PredictInput = Images | ImageLike | readonly ImageLike[];

/** Labelled examples. u8 images are normalised with the model's {@link Normalization}; f32 images are used as given. */
export interface Dataset {
  /** count * size(inputShape) values, NCHW. */
  images: Images;
  labels: ArrayLike<number>;
  count: number;
}

/** Options of a model ({@link Sequential}) and of its engine ({@link Net}). */
export interface SequentialOptions {
  /** Shape of one example without the batch dimension, e.g. [1, 28, 28]. */
  inputShape: Shape;
  /** Default: the backend of the last `initBackend()`. */
  backend?: Backend;
  /** Seed of initialisation (default 0). */
  seed?: number;
  /** Applied to u8 inputs (default: MNIST statistics). */
  normalization?: Normalization;
  /** Number of classes of the output (checked against the last layer). Default 10. */
  classes?: number;
  /** Bounds the parameter values the layers may allocate (model-file and ONNX loading: no more than the file holds). */
  paramBudget?: { values: number; held: number; source: string };
}

/** One tensor of `getWeights()`. */
export interface WeightTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** One tensor for `setWeights()`. */
export interface WeightTensorInput {
  name: string;
  values: ArrayLike<number>;
  /** Checked against the model's when given. */
  shape?: readonly number[];
}

/** Loss and accuracy (a fraction) over a data set. */
export interface Evaluation {
  loss: number;
  accuracy: number;
}

/** Activation statistics of one layer after the last forward pass. */
export interface LayerStats {
  layer: string;
  kind: string;
  maxAbs: number;
  /** Fraction of exactly-zero outputs (dead units for relu outputs). */
  zeroFraction: number;
}
