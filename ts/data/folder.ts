/**
 * Image folders as data sets (Node): one subfolder per class of PNG, JPEG
 * and PGM files, or `train/` and `test/` folders each holding the class
 * subfolders. Class names are the folder names, sorted; files are read in
 * sorted order. Each image is decoded and fitted to [C, H, W] (resized, area-
 * averaged when shrinking, bilinear when enlarging; or MNIST's digit
 * centring when asked), and kept as u8 pixels in JS memory: only batches go
 * to wasm. A bad file is named and skipped (or ends the load with `strict`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import type { Dataset } from '../engine/types.js';
import { decodeRgba, MAX_IMAGE_SIDE } from '../image/decode.js';
import { prepareImage, type Fit } from '../image/prepare.js';
import { Rng } from '../rng.js';

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Height and width the images are fitted to (default: the first image's). */
  imageSize?: number | readonly [height: number, width: number];
  /** 1 (gray) or 3 (RGB); default 3 if any training image has colour, else 1. */
  channels?: 1 | 3;
  /** 'resize' (default) or 'digit' (MNIST's centring, 28x28 gray). */
  fit?: Fit;
  /** Without a test/ folder: how much of the training images to hold out, stratified by class: a count, or a fraction below 1 (default 0). */
  valSize?: number;
  /** Seed of the hold-out (default 1). */
  seed?: number;
  /** A bad file ends the load (default: it is skipped and named in `skipped`). */
  strict?: boolean;
  /** Largest image side accepted (default 4,096; checked before decoding). */
  maxSide?: number;
  /** Called as files are read: done so far, total. */
  onProgress?(done: number, total: number): void;
  /**
   * A folder to keep the prepared pixels in: a second load with the same
   * options of the same files (names, sizes, modification times) reads them
   * back instead of decoding every image (the CLI uses its cache folder).
   */
  cache?: string;
}

/** A labelled split of an image folder. */
export interface FolderSplit extends Dataset {
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
}

/** An image folder, loaded. */
export interface ImageFolder {
  /** The class names (folder names, sorted); label i is classNames[i]. */
  classNames: string[];
  /** [C, H, W] of every image. */
  shape: [number, number, number];
  train: FolderSplit;
  /** The test/ folder's images, or null. */
  test: FolderSplit | null;
  /** The stratified hold-out of the training images (valSize), or null. */
  val: FolderSplit | null;
  /** Files that could not be read, and why (empty with `strict`). */
  skipped: { file: string; reason: string }[];
  /** Per-channel normalisation from the training images: x = (pixel / 255 - mean[c]) / std[c]. */
  normalization: { scale: number; mean: number[]; std: number[] };
  /** Whether the pixels came from the cache (no image was decoded). */
  fromCache: boolean;
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

/** File name endings read as images. */
const IMAGE_FILE = /\.(png|jpe?g|pgm)$/i;

const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };
const subdirs = (p: string) => readdirSync(p).filter((n) => !n.startsWith('.') && isDir(join(p, n))).sort();

/** Whether `dir` looks like an image folder: class subfolders (or train/ and test/ holding them) with image files. */
export function isImageFolder(dir: string): boolean {
  if (!isDir(dir)) return false;
  const root = isDir(join(dir, 'train')) ? join(dir, 'train') : dir;
  return subdirs(root).some((c) => readdirSync(join(root, c)).some((f) => IMAGE_FILE.test(f)));
}

/** The class folders of `root` and their image files, checked: at least two classes, none empty. */
function listClasses(root: string, classNames?: string[]): { name: string; files: string[] }[] {
  const names = subdirs(root);
  if (names.length === 0) throw new Error(`${root}: no class folders (an image folder holds one subfolder of images per class)`);
  if (!classNames && names.length < 2) throw new Error(`${root}: only one class folder (${names[0]}); a classifier needs at least two`);
  if (classNames) {
    const extra = names.filter((n) => !classNames.includes(n));
    if (extra.length) throw new Error(`${root}: class folder${extra.length > 1 ? 's' : ''} ${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not among the training classes (${classNames.join(', ')})`);
  }
  return names.map((name) => {
    const files = readdirSync(join(root, name)).filter((f) => IMAGE_FILE.test(f)).sort();
    if (files.length === 0) throw new Error(`${join(root, name)}: class folder with no PNG, JPEG or PGM files`);
    return { name, files: files.map((f) => join(root, name, f)) };
  });
}

/**
 * Loads an image folder: `loadImageFolder('photos/', { imageSize: 32, valSize: 0.1 })`.
 * Errors name the folder or file and what is wrong.
 */
export function loadImageFolder(dir: string, o: ImageFolderOptions = {}): ImageFolder {
  if (!isDir(dir)) throw new Error(`${dir}: no such folder`);
  const hasSplits = isDir(join(dir, 'train'));
  const trainClasses = listClasses(hasSplits ? join(dir, 'train') : dir);
  const classNames = trainClasses.map((c) => c.name);
  if (classNames.length > 65_536) throw new Error(`${dir}: ${classNames.length} classes, more than 65,536`);
  const testClasses = hasSplits && isDir(join(dir, 'test')) ? listClasses(join(dir, 'test'), classNames) : null;
  const cacheFile = o.cache ? join(o.cache, `${cacheKey(dir, o, [...trainClasses, ...(testClasses ?? [])].flatMap((c) => c.files))}.folder`) : null;
  const cached = cacheFile ? readCache(cacheFile) : null;
  if (cached) return cached;
  const loaded = decodeFolder(dir, o, trainClasses, testClasses, classNames);
  if (cacheFile) {
    try {
      mkdirSync(o.cache!, { recursive: true });
      writeFileAtomic(cacheFile, encodeCache(loaded));
    } catch { /* a cache that cannot be written only costs the next load its time */ }
  }
  return loaded;
}

/** The cache's name for a load: the options and every file's path, size and modification time. */
function cacheKey(dir: string, o: ImageFolderOptions, files: string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, dir: resolve(dir), imageSize: o.imageSize, channels: o.channels, fit: o.fit, valSize: o.valSize, seed: o.seed, strict: o.strict, maxSide: o.maxSide }));
  for (const f of files) {
    const st = statSync(f);
    h.update(`\n${f}\t${st.size}\t${st.mtimeMs}`);
  }
  return h.digest('hex').slice(0, 32);
}

const CACHE_MAGIC = 'CNNWFOLD';

/** A loaded folder as bytes: magic, u32 header length, JSON header, then each split's pixels and u16 labels. */
function encodeCache(f: ImageFolder): Uint8Array {
  const splits = (['train', 'val', 'test'] as const).map((k) => f[k]);
  const header = new TextEncoder().encode(JSON.stringify({
    classNames: f.classNames, shape: f.shape, skipped: f.skipped, normalization: f.normalization, counts: splits.map((d) => (d ? d.count : -1)),
  }));
  const size = f.shape[0] * f.shape[1] * f.shape[2];
  const total = 12 + header.length + splits.reduce((t, d) => t + (d ? d.count * (size + 2) : 0), 0);
  const out = new Uint8Array(total), dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CACHE_MAGIC), 0);
  dv.setUint32(8, header.length, true);
  out.set(header, 12);
  let at = 12 + header.length;
  for (const d of splits) {
    if (!d) continue;
    out.set(d.images, at);
    at += d.images.length;
    for (let i = 0; i < d.count; i++, at += 2) dv.setUint16(at, d.labels[i], true);
  }
  return out;
}

/** A cached folder, or null when the file is missing, foreign or not whole (then the folder is decoded again). */
function readCache(file: string): ImageFolder | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    return null;
  }
  try {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CACHE_MAGIC) return null;
    const hl = dv.getUint32(8, true);
    if (12 + hl > bytes.length) return null;
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hl))) as { classNames: string[]; shape: [number, number, number]; skipped: ImageFolder['skipped']; normalization: ImageFolder['normalization']; counts: number[] };
    const size = h.shape[0] * h.shape[1] * h.shape[2];
    const want = 12 + hl + h.counts.reduce((t, c) => t + (c > 0 ? c * (size + 2) : 0), 0);
    if (want !== bytes.length) return null;
    let at = 12 + hl;
    const [train, val, test] = h.counts.map((count) => {
      if (count < 0) return null;
      const images = bytes.slice(at, at + count * size);
      at += count * size;
      const labels = h.classNames.length > 256 ? new Uint16Array(count) : new Uint8Array(count);
      for (let i = 0; i < count; i++, at += 2) labels[i] = dv.getUint16(at, true);
      return { images, labels, count } as FolderSplit;
    });
    if (!train) return null;
    return { classNames: h.classNames, shape: h.shape, train, val, test, skipped: h.skipped, normalization: h.normalization, fromCache: true };
  } catch {
    return null;
  }
}

/** Decodes and prepares every image of the folder. */
function decodeFolder(dir: string, o: ImageFolderOptions, trainClasses: { name: string; files: string[] }[], testClasses: { name: string; files: string[] }[] | null, classNames: string[]): ImageFolder {
  const maxSide = o.maxSide ?? MAX_IMAGE_SIDE;
  const skipped: ImageFolder['skipped'] = [];
  const total = [...trainClasses, ...(testClasses ?? [])].reduce((t, c) => t + c.files.length, 0);
  let done = 0;
  const decode = (file: string) => {
    try {
      return decodeRgba(readFileSync(file), file, { maxSide });
    } catch (e) {
      const reason = (e as Error).message.replace(`${file}: `, '');
      if (o.strict) throw new Error(`${file}: ${reason}`);
      skipped.push({ file, reason });
      return null;
    } finally {
      o.onProgress?.(++done, total);
    }
  };
  // The size: given, or the first readable training image's.
  let size = o.imageSize === undefined ? null : typeof o.imageSize === 'number' ? [o.imageSize, o.imageSize] : [...o.imageSize];
  if (size && !size.every((v) => Number.isInteger(v) && v >= 1 && v <= 4096)) throw new Error(`loadImageFolder: imageSize must be integers from 1 to 4,096, got ${JSON.stringify(o.imageSize)}`);
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3) throw new Error(`loadImageFolder: channels must be 1 or 3, got ${JSON.stringify(o.channels)}`);
  const digit = o.fit === 'digit';
  if (o.fit !== undefined && o.fit !== 'digit' && o.fit !== 'resize') throw new Error(`loadImageFolder: fit must be 'resize' or 'digit', got ${JSON.stringify(o.fit)}`);
  if (digit && ((o.channels ?? 1) !== 1 || (size && (size[0] !== 28 || size[1] !== 28)))) throw new Error('loadImageFolder: fit \'digit\' makes 28x28 gray images (MNIST\'s centring): leave imageSize and channels out');
  // Images are kept as RGB at the target size while loading (whether any has colour is known only at the end).
  const load = (classes: { name: string; files: string[] }[]) => {
    const rgb: Uint8Array[] = [], labels: number[] = [];
    let colour = false;
    classes.forEach((c) => {
      const label = classNames.indexOf(c.name);
      for (const file of c.files) {
        const img = decode(file);
        if (!img) continue;
        size ??= digit ? [28, 28] : [img.height, img.width];
        let px: Uint8Array;
        try {
          px = digit ? prepareImage(img, [1, 28, 28], file, 'digit') : prepareImage(img, [3, size[0], size[1]], file, 'resize');
        } catch (e) {
          if (o.strict) throw e;
          skipped.push({ file, reason: (e as Error).message.replace(`${file}: `, '') });
          continue;
        }
        if (!colour && !digit) {
          const plane = size[0] * size[1];
          for (let i = 0; i < plane && !colour; i++) colour = px[i] !== px[plane + i] || px[i] !== px[2 * plane + i];
        }
        rgb.push(px);
        labels.push(label);
      }
    });
    return { rgb, labels, colour };
  };
  const tr = load(trainClasses), te = testClasses ? load(testClasses) : null;
  if (tr.rgb.length === 0) throw new Error(`${dir}: no readable training image (${skipped.length} skipped; first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  for (const c of classNames) {
    if (!tr.labels.includes(classNames.indexOf(c))) throw new Error(`${dir}: class ${c} has no readable image`);
  }
  const channels = digit ? 1 : o.channels ?? (tr.colour ? 3 : 1);
  const [H, W] = size!, plane = H * W, per = channels * plane;
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
  const valCount = o.valSize === undefined ? 0 : o.valSize < 1 ? Math.round(o.valSize * tr.rgb.length) : o.valSize;
  if (!Number.isInteger(valCount) || valCount < 0 || valCount >= tr.rgb.length) throw new Error(`loadImageFolder: valSize must be a count from 0 to ${tr.rgb.length - 1} or a fraction below 1, got ${JSON.stringify(o.valSize)}`);
  const rng = new Rng((o.seed ?? 1) + 0x7a1);
  const valIdx: number[] = [], trainIdx: number[] = [];
  if (valCount > 0) {
    const byClass = classNames.map((_, c) => tr.labels.flatMap((l, i) => (l === c ? [i] : [])));
    // Each class gives its share, rounded; the rounding's remainder goes to the largest classes first.
    const share = byClass.map((ix) => Math.floor((ix.length * valCount) / tr.rgb.length));
    let left = valCount - share.reduce((a, b) => a + b, 0);
    const order = byClass.map((ix, c) => c).sort((a, b) => byClass[b].length - byClass[a].length || a - b);
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
  const train = pack(tr.rgb, tr.labels, valCount > 0 ? trainIdx : undefined);
  return {
    classNames, shape: [channels, H, W], train,
    normalization: { scale: 1 / 255, ...channelMoments(train.images, train.count, channels) },
    fromCache: false,
    val: valCount > 0 ? pack(tr.rgb, tr.labels, valIdx) : null,
    test: te ? pack(te.rgb, te.labels) : null,
    skipped,
  };
}
