/**
 * Labelled pictures into a data set (browser-safe): each picture fitted to
 * [C, H, W] as the CLI fits an image file (resized, area-averaged when
 * shrinking, bilinear when enlarging; or MNIST's digit centring when asked),
 * kept as u8 pixels in JS memory, gray or RGB by whether any training picture
 * has colour, a seeded stratified hold-out, and per-channel statistics for
 * the normalisation. Image folders in Node (data/folder.ts) and pictures in a
 * page (data/pictures.ts) both end here, so both prepare images alike.
 */
import type { Dataset } from '../engine/types.js';
import { checkFit, prepareImage, type Fit, type ImageLike } from '../image/prepare.js';
import { otherPictureReason } from '../image/formats.js';
import { Rng } from '../rng.js';

/** How pictures are fitted and split (shared by loadImageFolder and loadPictures). */
export interface PictureOptions {
  /** Height and width the images are fitted to (default: the first readable training image's, which must then be at most 256x256). */
  imageSize?: number | readonly [height: number, width: number];
  /** 1 (gray) or 3 (RGB); default 3 if any training image has colour, else 1. */
  channels?: 1 | 3;
  /** 'resize' (default: the whole picture, squeezed to imageSize's shape), 'crop' (its largest centred part of that shape, resized) or 'digit' (MNIST's centring, 28x28 gray). */
  fit?: Fit;
  /** Without a test split: how much of the training images to hold out, stratified by class: a count, or a fraction below 1 (default 0). */
  valSize?: number;
  /** Seed of the hold-out (default 1). */
  seed?: number;
  /** A bad image ends the load (default: it is skipped and named in `skipped`). */
  strict?: boolean;
}

/** A labelled split of pictures. */
export interface FolderSplit extends Dataset {
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
}

/** Labelled pictures, loaded: an image folder, or pictures given in a page. */
export interface ImageFolder {
  /** The class names (folder names, sorted); label i is classNames[i]. */
  classNames: string[];
  /** [C, H, W] of every image. */
  shape: [number, number, number];
  train: FolderSplit;
  /** The test split's images (a test/ folder), or null. */
  test: FolderSplit | null;
  /** The stratified hold-out of the training images (valSize), or null. */
  val: FolderSplit | null;
  /** Images that could not be read, and why (empty with `strict`). */
  skipped: { file: string; reason: string }[];
  /** Per-channel normalisation from the training images: x = (pixel / 255 - mean[c]) / std[c]. */
  normalization: { scale: number; mean: number[]; std: number[] };
  /** Whether the pixels came from the cache (no image was decoded). */
  fromCache: boolean;
  /**
   * The smallest and largest height and width among the pictures read, as
   * they were before fitting ([min, max] each): pictures of many sizes are
   * all fitted to `shape`.
   */
  pictureSizes: { height: [number, number]; width: [number, number] };
}

/** Each channel's mean and standard deviation of pixel / 255 over a split (float64 sums). */
export function channelMoments(images: Uint8Array, count: number, channels: number): { mean: number[]; std: number[] } {
  const plane = images.length / count / channels, mean: number[] = [], std: number[] = [];
  for (let c = 0; c < channels; c++) {
    const hist = new Float64Array(256);
    for (let i = 0; i < count; i++) {
      const at = (i * channels + c) * plane;
      for (let k = 0; k < plane; k++) hist[images[at + k]]++;
    }
    let n = 0, s = 0, s2 = 0;
    hist.forEach((h, v) => { n += h; s += h * (v / 255); s2 += h * (v / 255) ** 2; });
    const m = s / n;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / n - m * m, 0)) || 1); // a constant channel keeps std 1
  }
  return { mean, std };
}

/** The options checked; the target size, if given. Errors are prefixed with `who`. */
export function checkPictureOptions(o: PictureOptions, who: string): { size: [number, number] | null; fit: Fit; digit: boolean } {
  const size = o.imageSize === undefined ? null : typeof o.imageSize === 'number' ? [o.imageSize, o.imageSize] : [...o.imageSize];
  if (size && (size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 1 && v <= 4096))) throw new Error(`${who}: imageSize must be integers from 1 to 4,096, got ${JSON.stringify(o.imageSize)}`);
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3) throw new Error(`${who}: channels must be 1 or 3, got ${JSON.stringify(o.channels)}`);
  const fit = checkFit(o.fit, who) ?? 'resize', digit = fit === 'digit';
  if (digit && ((o.channels ?? 1) !== 1 || (size && (size[0] !== 28 || size[1] !== 28)))) throw new Error(`${who}: fit 'digit' makes 28x28 gray images (MNIST's centring): leave imageSize and channels out`);
  return { size: size as [number, number] | null, fit, digit };
}

/** Largest side of the default size (the first readable training picture's) when no imageSize is given. */
export const MAX_DEFAULT_SIDE = 256;

/** The first picture is too large to be the default size: the caller must choose one (not a bad file to skip). */
export class ImageSizeNeeded extends Error {}

/**
 * The default size, the first readable training picture's [height, width],
 * refused past MAX_DEFAULT_SIDE: every picture would be kept at that size
 * (a folder of phone photos is gigabytes) for a network that needs a
 * chosen one, and this says so after one picture rather than all of them.
 */
export function firstPictureSize(height: number, width: number, source: string, who: string): [number, number] {
  if (height > MAX_DEFAULT_SIDE || width > MAX_DEFAULT_SIDE) {
    throw new ImageSizeNeeded(`${who}: ${source} is ${width}x${height}: with no imageSize, pictures are fitted to the first one's size, which must be at most ${MAX_DEFAULT_SIDE}x${MAX_DEFAULT_SIDE}; choose a size (imageSize: 64, or --image-size 64 on the command line; small CNNs are made for 28 to 64 pixels a side)`);
  }
  return [height, width];
}

/** Names pictures in formats not read (HEIC, WebP, ...) as skipped, in the order given; with `strict` the first ends the load. */
export function skipUnread(files: readonly string[], strict: boolean | undefined, skipped: ImageFolder['skipped']): void {
  for (const file of files) {
    if (strict) throw new Error(`${file}: ${otherPictureReason(file)}`);
    skipped.push({ file, reason: otherPictureReason(file) });
  }
}

/** One picture fitted: RGB planes at `size`, resized or cropped (or MNIST's 28x28 gray digit), and whether it has colour. */
export function fitPicture(img: ImageLike, size: readonly [number, number], fit: Fit, source: string): { px: Uint8Array; colour: boolean } {
  if (fit === 'digit') return { px: prepareImage(img, [1, 28, 28], source, 'digit'), colour: false };
  const px = prepareImage(img, [3, size[0], size[1]], source, fit), plane = size[0] * size[1];
  let colour = false;
  for (let i = 0; i < plane && !colour; i++) colour = px[i] !== px[plane + i] || px[i] !== px[2 * plane + i];
  return { px, colour };
}

/** Fitted pictures of one split, in the order read, and the range of the sizes they had ([min, max]; empty while none). */
export interface Fitted { px: Uint8Array[]; labels: number[]; colour: boolean; heights: number[]; widths: number[] }

/** An empty split. */
export function fitted(): Fitted {
  return { px: [], labels: [], colour: false, heights: [], widths: [] };
}

/** Adds one fitted picture (of its own [height, width] `from`) to a split. */
export function addFitted(into: Fitted, f: { px: Uint8Array; colour: boolean }, label: number, from: readonly [number, number]): void {
  into.px.push(f.px);
  into.labels.push(label);
  into.colour ||= f.colour;
  const widen = (r: number[], v: number) => { if (r.length === 0) r.push(v, v); else { r[0] = Math.min(r[0], v); r[1] = Math.max(r[1], v); } };
  widen(into.heights, from[0]);
  widen(into.widths, from[1]);
}

/**
 * Fitted pictures into an ImageFolder: gray or RGB, the seeded stratified
 * hold-out, per-channel statistics of the training split. `where` names the
 * folder or the pictures in errors.
 */
export function finishPictures(where: string, classNames: string[], size: readonly [number, number], tr: Fitted, te: Fitted | null, o: PictureOptions, skipped: ImageFolder['skipped']): ImageFolder {
  if (tr.px.length === 0) throw new Error(`${where}: no readable training image (${skipped.length} skipped; first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  const seen = new Set(tr.labels);
  for (const [c, name] of classNames.entries()) {
    if (!seen.has(c)) throw new Error(`${where}: class ${name} has no readable image`);
  }
  const digit = o.fit === 'digit';
  const channels = digit ? 1 : o.channels ?? (tr.colour ? 3 : 1);
  const [H, W] = digit ? [28, 28] : size, plane = H * W, per = channels * plane;
  const pack = (imgs: Uint8Array[], labels: number[], pick: number[] = imgs.map((_, i) => i)): FolderSplit => {
    const images = new Uint8Array(pick.length * per), lab = classNames.length > 256 ? new Uint16Array(pick.length) : new Uint8Array(pick.length);
    pick.forEach((k, j) => {
      const px = imgs[k];
      if (channels === 3 || digit) images.set(px, j * per);
      else {
        // Gray: an image without colour has R = G = B; one with colour is converted by luma.
        for (let i = 0; i < plane; i++) images[j * per + i] = Math.round(0.299 * px[i] + 0.587 * px[plane + i] + 0.114 * px[2 * plane + i]);
      }
      lab[j] = labels[k];
    });
    return { images, labels: lab, count: pick.length };
  };
  // Stratified hold-out: the same share of each class, chosen by a seeded shuffle within the class.
  const n = tr.px.length;
  const valCount = o.valSize === undefined ? 0 : o.valSize < 1 ? Math.round(o.valSize * n) : o.valSize;
  if (!Number.isInteger(valCount) || valCount < 0 || valCount >= n) throw new Error(`${where}: valSize must be a count from 0 to ${n - 1} or a fraction below 1, got ${JSON.stringify(o.valSize)}`);
  const rng = new Rng((o.seed ?? 1) + 0x7a1);
  const valIdx: number[] = [], trainIdx: number[] = [];
  if (valCount > 0) {
    const byClass = classNames.map(() => [] as number[]);
    tr.labels.forEach((l, i) => byClass[l].push(i));
    // Each class gives its share, rounded down; the remainder goes to the largest classes first.
    const share = byClass.map((ix) => Math.floor((ix.length * valCount) / n));
    let left = valCount - share.reduce((a, b) => a + b, 0);
    const order = byClass.map((_, c) => c).sort((a, b) => byClass[b].length - byClass[a].length || a - b);
    for (const c of order) { if (left === 0) break; if (share[c] < byClass[c].length) { share[c]++; left--; } }
    byClass.forEach((ix, c) => {
      const shuffled = Uint32Array.from(ix);
      rng.shuffle(shuffled);
      const held = new Set(Array.from(shuffled.subarray(0, share[c])));
      for (const i of ix) (held.has(i) ? valIdx : trainIdx).push(i);
    });
    valIdx.sort((a, b) => a - b);
    trainIdx.sort((a, b) => a - b);
  }
  const train = pack(tr.px, tr.labels, valCount > 0 ? trainIdx : undefined);
  const range = (a: number[], b: number[] | undefined): [number, number] => (b && b.length ? [Math.min(a[0], b[0]), Math.max(a[1], b[1])] : [a[0], a[1]]);
  return {
    pictureSizes: { height: range(tr.heights, te?.heights), width: range(tr.widths, te?.widths) },
    classNames, shape: [channels, H, W], train,
    normalization: { scale: 1 / 255, ...channelMoments(train.images, train.count, channels) },
    fromCache: false,
    val: valCount > 0 ? pack(tr.px, tr.labels, valIdx) : null,
    test: te ? pack(te.px, te.labels) : null,
    skipped,
  };
}
