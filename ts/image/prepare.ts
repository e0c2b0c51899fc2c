/**
 * Pictures (canvas ImageData and the like: RGBA, 4 values a pixel) as a
 * model's input, prepared as `cnn-wasm predict` prepares an image file: a
 * one-channel 28x28 model is a digit model and gets MNIST's centring
 * (toMnist); any other model gets the picture resized to its height and
 * width (area-averaged when shrinking, bilinear when enlarging), in gray
 * for one channel, RGB for three. Browser-safe: no Node imports.
 */
import { toMnist, type Gray } from './mnist.js';

/** A picture as canvas ImageData holds it: RGBA rows, 4 values a pixel, 0..255. */
export interface ImageLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** Whether `x` looks like an ImageData: { data, width, height } (checked further by {@link prepareImage}). */
export function isImageLike(x: unknown): x is ImageLike {
  return typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && 'data' in x && 'width' in x && 'height' in x;
}

function checkImageLike(img: ImageLike, what: string): void {
  const { width: w, height: h, data } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || w > 16384 || h > 16384) {
    throw new Error(`${what}: an image of ${w}x${h} pixels; width and height must be integers from 1 to 16,384`);
  }
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) throw new Error(`${what}: image data must be a Uint8ClampedArray or Uint8Array of RGBA values (as ImageData.data)`);
  if (data.length !== 4 * w * h) throw new Error(`${what}: image data holds ${data.length} values; a ${w}x${h} RGBA image has ${4 * w * h} (4 a pixel)`);
}

/**
 * Gray levels of RGBA pixels (luma 0.299 R + 0.587 G + 0.114 B). Transparency
 * is composited on white and on black, and the one with more contrast kept:
 * black ink on a transparent background reads on white; ink whose alpha
 * carries the strokes reads on black.
 */
export function rgbaToGray(data: ArrayLike<number>, width: number, height: number): Gray {
  const n = width * height;
  const onWhite = new Float32Array(n), onBlack = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = data[4 * i + 3] / 255;
    const lum = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    onWhite[i] = lum * a + 255 * (1 - a);
    onBlack[i] = lum * a;
  }
  const range = (v: Float32Array) => {
    let lo = Infinity, hi = -Infinity;
    for (const x of v) { if (x < lo) lo = x; if (x > hi) hi = x; }
    return hi - lo;
  };
  return { width, height, data: range(onBlack) > range(onWhite) ? onBlack : onWhite };
}

/** One axis of a resampling: for each output index, its source indices and weights (they sum to 1). */
function computeAxisWeights(from: number, to: number): { idx: number[]; w: number[] }[] {
  const scale = from / to;
  return Array.from({ length: to }, (_, o) => {
    const idx: number[] = [], w: number[] = [];
    if (scale >= 1) {
      // Area: the output pixel covers source [o * scale, (o + 1) * scale).
      const a = o * scale, b = (o + 1) * scale;
      for (let i = Math.floor(a); i < Math.min(from, Math.ceil(b)); i++) {
        const cover = Math.min(b, i + 1) - Math.max(a, i);
        if (cover > 0) { idx.push(i); w.push(cover / scale); }
      }
    } else {
      // Bilinear at the output pixel's centre, edges clamped.
      const x = Math.min(from - 1, Math.max(0, (o + 0.5) * scale - 0.5)), i = Math.floor(x), f = x - i;
      idx.push(i);
      w.push(1 - f);
      if (f > 0) { idx.push(i + 1); w.push(f); }
    }
    return { idx, w };
  });
}

/** The last few axes' weights: a folder of pictures of one size resamples with the same ones every time. */
const axisCache = new Map<string, { idx: number[]; w: number[] }[]>();
function axisWeights(from: number, to: number): { idx: number[]; w: number[] }[] {
  const key = `${from}>${to}`;
  let a = axisCache.get(key);
  if (!a) {
    if (axisCache.size >= 16) axisCache.clear();
    a = computeAxisWeights(from, to);
    axisCache.set(key, a);
  }
  return a;
}

/** Resamples one channel [h, w] to [H, W] (area when shrinking, bilinear when enlarging), separably; the same size is a copy. */
export function resizeChannel(src: ArrayLike<number>, w: number, h: number, W: number, H: number): Float32Array {
  if (w === W && h === H) return Float32Array.from(src); // every weight would be 1
  const xs = axisWeights(w, W), ys = axisWeights(h, H);
  const rows = new Float32Array(h * W);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      const { idx, w: wt } = xs[x];
      for (let k = 0; k < idx.length; k++) s += src[y * w + idx[k]] * wt[k];
      rows[y * W + x] = s;
    }
  }
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) {
    const { idx, w: wt } = ys[y];
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let k = 0; k < idx.length; k++) s += rows[idx[k] * W + x] * wt[k];
      out[y * W + x] = s;
    }
  }
  return out;
}

/** Whether every pixel of RGBA data has alpha 255. */
function isOpaque(data: ArrayLike<number>): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}

/** Values rounded and clamped to 0..255 into `out` from `at`; returns `out`. */
function toU8s(v: Float32Array, out: Uint8Array, at: number): Uint8Array {
  for (let i = 0; i < v.length; i++) out[at + i] = Math.max(0, Math.min(255, Math.round(v[i])));
  return out;
}

/**
 * How a picture is fitted to a model's input: 'digit', MNIST's centring (a
 * 1x28x28 model's default); 'resize', the whole picture resized (every other
 * model's; a picture of another shape is squeezed); 'crop', the largest
 * centred part of the input's shape, resized (Keras's crop_to_aspect_ratio:
 * nothing is squeezed, the edges of a picture of another shape are lost).
 */
export type Fit = 'digit' | 'resize' | 'crop';

/** Every Fit, as flags and messages list them. */
export const FITS: readonly Fit[] = ['resize', 'digit', 'crop'];

/** `fit` as given to a function: undefined, or one of FITS (else an error prefixed with `who`). */
export function checkFit(fit: unknown, who: string): Fit | undefined {
  if (fit !== undefined && !(FITS as readonly unknown[]).includes(fit)) throw new Error(`${who}: fit must be ${FITS.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(fit)}`);
  return fit as Fit | undefined;
}

/** A model file's record of its fit, if it is one (a file from elsewhere may hold anything). */
export function fitOf(v: unknown): Fit | undefined {
  return (FITS as readonly unknown[]).includes(v) ? (v as Fit) : undefined;
}

/**
 * The centred part of a `width` x `height` picture that has the aspect of
 * `W` x `H`, as [x, y, width, height]: whole rows or whole columns are kept,
 * and what is cut is split evenly between the two sides (the extra pixel of
 * an odd cut goes to the right or bottom).
 */
export function centreCrop(width: number, height: number, W: number, H: number): [number, number, number, number] {
  if (width * H > height * W) {
    const w = Math.max(1, Math.min(width, Math.round((height * W) / H)));
    return [Math.floor((width - w) / 2), 0, w, height];
  }
  const h = Math.max(1, Math.min(height, Math.round((width * H) / W)));
  return [0, Math.floor((height - h) / 2), width, h];
}

/** The [x, y, w, h] part of an RGBA picture, as a picture of its own. */
function cropRgba(img: ImageLike, [x0, y0, w, h]: readonly number[]): ImageLike {
  if (x0 === 0 && y0 === 0 && w === img.width && h === img.height) return img;
  const data = new Uint8Array(4 * w * h);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(4 * ((y0 + y) * img.width + x0), 4 * ((y0 + y) * img.width + x0 + w)), 4 * y * w);
  return { data, width: w, height: h };
}

/**
 * The [height, width] prepareImage fits a picture to for a model of
 * `inputShape` [C, H, W] and `fit`, or null for MNIST's digit centring, which
 * reads the whole picture: what a decoder may shrink a picture towards first.
 */
export function resizeTarget(inputShape: readonly number[], fit?: Fit): [number, number] | null {
  const [c, H, W] = inputShape;
  if (c === 1 && (fit ?? (H === 28 && W === 28 ? 'digit' : 'resize')) === 'digit') return null;
  return [H, W];
}

/**
 * One picture as u8 input of a model of `inputShape` [C, H, W]: a 1x28x28
 * model gets MNIST's centring (a digit) unless `fit` is 'resize' or 'crop',
 * other one-channel models the gray picture resized, three-channel models
 * its RGB (composited on white) resized; with 'crop', only the picture's
 * centred part of the input's shape (see {@link centreCrop}).
 */
export function prepareImage(img: ImageLike, inputShape: readonly number[], what = 'predict', fit?: Fit): Uint8Array {
  checkImageLike(img, what);
  const [c, H, W] = inputShape;
  if (inputShape.length !== 3 || (c !== 1 && c !== 3)) throw new Error(`${what}: images are prepared for models of 1 or 3 channels [C, H, W]; this model takes (${inputShape.join(', ')})`);
  checkFit(fit, what);
  if (fit === 'crop') return prepareImage(cropRgba(img, centreCrop(img.width, img.height, W, H)), inputShape, what, 'resize');
  const { data, width, height } = img;
  if (c === 1) {
    const gray = rgbaToGray(data, width, height);
    if (fit === 'resize') {
      // Opaque pictures are gray as they are; composite transparency on white, as the RGB path does.
      for (let i = 0; i < width * height; i++) {
        const a = data[4 * i + 3] / 255;
        gray.data[i] = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) * a + 255 * (1 - a);
      }
    }
    if ((fit ?? (H === 28 && W === 28 ? 'digit' : 'resize')) === 'digit') {
      if (H !== 28 || W !== 28) throw new Error(`${what}: MNIST's digit centring makes 28x28 images; this model takes ${W}x${H}`);
      try {
        return toMnist(gray);
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    }
    return toU8s(resizeChannel(gray.data, width, height, W, H), new Uint8Array(H * W), 0);
  }
  const out = new Uint8Array(3 * H * W), plane = new Float32Array(width * height);
  if (W === width && H === height && isOpaque(data)) {
    // Opaque at its own size: the planes are the picture's values as they are (what compositing and resizing would give).
    for (let ch = 0; ch < 3; ch++) for (let i = 0, at = ch * H * W; i < width * height; i++) out[at + i] = data[4 * i + ch];
    return out;
  }
  for (let ch = 0; ch < 3; ch++) {
    for (let i = 0; i < plane.length; i++) {
      const a = data[4 * i + 3] / 255;
      plane[i] = data[4 * i + ch] * a + 255 * (1 - a);
    }
    toU8s(resizeChannel(plane, width, height, W, H), out, ch * H * W);
  }
  return out;
}

/** An ImageData, or several, as the u8 input of a model of `inputShape` (examples back to back). */
export function prepareImages(input: ImageLike | readonly ImageLike[], inputShape: readonly number[], what = 'predict', fit?: Fit): Uint8Array {
  const list = Array.isArray(input) ? input : [input as ImageLike];
  const size = inputShape.reduce((a, b) => a * b, 1), out = new Uint8Array(list.length * size);
  list.forEach((img, i) => {
    if (!isImageLike(img)) throw new Error(`${what}: image ${i} is not an ImageData ({ data, width, height })`);
    out.set(prepareImage(img, inputShape, list.length > 1 ? `${what}: image ${i}` : what, fit), i * size);
  });
  return out;
}
