/** Layer factories (Keras-style names) and re-creation from configs. */
import { checkActivation } from './layer.js';
import { Conv2D, type Conv2DOptions } from './conv2d.js';
import { Dense, type DenseOptions } from './dense.js';
import { AveragePooling2D, MaxPooling2D, type Pooling2DOptions } from './pooling.js';
import { BatchNormalization, type BatchNormOptions } from './batchnorm.js';
import { Dropout, Flatten, ReLU, ZeroPadding2D } from './simple.js';
import type { Layer } from './layer.js';

/** 2-D convolution: `conv2d({ filters: 6, kernelSize: 5, activation: 'relu' })`. */
export const conv2d = (o: Conv2DOptions): Conv2D => new Conv2D(o);
/** Fully connected layer. */
export const dense = (o: DenseOptions): Dense => new Dense(o);
/** Max pooling (default 2x2, stride = window). */
export const maxPooling2d = (o: Pooling2DOptions = {}): MaxPooling2D => new MaxPooling2D(o);
/** Average pooling (default 2x2, stride = window). */
export const averagePooling2d = (o: Pooling2DOptions = {}): AveragePooling2D => new AveragePooling2D(o);
/** Batch normalisation (PyTorch momentum convention, default 0.1). */
export const batchNormalization = (o: BatchNormOptions = {}): BatchNormalization => new BatchNormalization(o);
/** Element-wise relu. */
export const relu = (o: { name?: string } = {}): ReLU => new ReLU(o);
/** (C, H, W) -> (C*H*W). */
export const flatten = (o: { name?: string } = {}): Flatten => new Flatten(o);
/** Inverted dropout with drop probability `rate`. */
export const dropout = (o: { rate: number; name?: string }): Dropout => new Dropout(o);
/** Zero padding around images. */
export const zeroPadding2d = (o: ConstructorParameters<typeof ZeroPadding2D>[0] = {}): ZeroPadding2D => new ZeroPadding2D(o);

/** Re-creates a layer from `layer.config()` (model files). */
export function layerFromConfig(c: Record<string, unknown>): Layer {
  const name = typeof c.name === 'string' ? c.name : undefined;
  const o = { ...c, name } as never;
  switch (c.kind) {
    case 'conv2d': checkActivation(c.activation, 'conv2d'); return new Conv2D(o);
    case 'dense': checkActivation(c.activation, 'dense'); return new Dense(o);
    case 'maxPooling2d': return new MaxPooling2D(o);
    case 'averagePooling2d': return new AveragePooling2D(o);
    case 'batchNormalization': return new BatchNormalization(o);
    case 'relu': return new ReLU(o);
    case 'flatten': return new Flatten(o);
    case 'dropout': return new Dropout(o);
    case 'zeroPadding2d': return new ZeroPadding2D(o);
    default:
      throw new Error(`unknown layer kind ${JSON.stringify(c.kind)} (valid: conv2d, dense, maxPooling2d, averagePooling2d, batchNormalization, relu, flatten, dropout, zeroPadding2d)`);
  }
}

export { Conv2D, Dense, MaxPooling2D, AveragePooling2D, BatchNormalization, ReLU, Flatten, Dropout, ZeroPadding2D };
