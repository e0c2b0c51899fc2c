/** Checks of what callers hand the model: images, batch sizes. */
import { isImageLike, prepareImages, type Fit, type ImageLike } from './image/prepare.js';

/**
 * Checks an images argument and returns it as Uint8Array or Float32Array.
 * A Uint8ClampedArray is refused: it is what canvas ImageData holds (RGBA, 4
 * values a pixel), which read as gray pixels would be four wrong examples.
 */
export function checkImages(images: unknown, what: string): Uint8Array | Float32Array {
  if (images instanceof Uint8Array || images instanceof Float32Array) {
    if (images instanceof Float32Array) {
      for (let i = 0; i < images.length; i++) {
        if (!Number.isFinite(images[i])) throw new Error(`${what}: image value ${images[i]} at index ${i} is not finite`);
      }
    }
    return images;
  }
  if (images instanceof Uint8ClampedArray) {
    throw new Error(`${what}: a Uint8ClampedArray is what canvas ImageData holds (RGBA, 4 values a pixel), not one value a pixel: `
      + 'pass the ImageData itself ({ data, width, height }) to predict, which converts it as cnn-wasm predict does, or pixels as a Uint8Array');
  }
  const got = images === null ? 'null' : Array.isArray(images) ? 'a plain array' : (images as object)?.constructor?.name ?? typeof images;
  throw new Error(`${what}: images must be a Uint8Array (pixels 0..255) or a Float32Array (values used as given), got ${got}` +
    (Array.isArray(images) ? '; wrap it: new Uint8Array(pixels) or new Float32Array(values)' : ''));
}

/** A batch size argument: a positive integer. */
export function checkBatchSize(bs: unknown, what: string): number {
  if (!Number.isInteger(bs) || (bs as number) < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${JSON.stringify(bs)}`);
  return bs as number;
}

/**
 * predict's input as the model takes it: an ImageData (or a list of them) is
 * prepared for `inputShape` (see image/prepare.ts; `fit` as a model file
 * records it, else by shape); typed arrays are checked.
 */
export function modelInput(input: unknown, inputShape: readonly number[], what: string, fit?: Fit): Uint8Array | Float32Array {
  if (isImageLike(input) || (Array.isArray(input) && input.length > 0 && input.every(isImageLike))) return prepareImages(input as ImageLike | ImageLike[], inputShape, what, fit);
  return checkImages(input, what);
}
