/** Checks of what callers hand the model: images, batch sizes. */

/**
 * Checks an images argument and returns it as Uint8Array or Float32Array
 * (a Uint8ClampedArray is viewed as the same bytes, not copied).
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
  if (images instanceof Uint8ClampedArray) return new Uint8Array(images.buffer, images.byteOffset, images.length);
  const got = images === null ? 'null' : Array.isArray(images) ? 'a plain array' : (images as object)?.constructor?.name ?? typeof images;
  throw new Error(`${what}: images must be a Uint8Array or Uint8ClampedArray (pixels 0..255) or a Float32Array (values used as given), got ${got}` +
    (Array.isArray(images) ? '; wrap it: new Uint8Array(pixels) or new Float32Array(values)' : ''));
}

/** A batch size argument: a positive integer. */
export function checkBatchSize(bs: unknown, what: string): number {
  if (!Number.isInteger(bs) || (bs as number) < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${JSON.stringify(bs)}`);
  return bs as number;
}
