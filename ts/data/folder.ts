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
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readFileCapped, writeFileAtomic } from '../io/files.js';
import { IMAGE_FILE_NAME, OTHER_PICTURE_FILE } from '../image/formats.js';
import { availableCores } from '../parallel/group.js';
import { addFitted, checkPictureOptions, finishPictures, firstPictureSize, fitted, skipUnread, type FolderSplit, type ImageFolder, type PictureOptions } from './collect.js';
import { decodeFiles, decodeFile, type Decoded } from './decode-files.js';

export type { FolderSplit, ImageFolder } from './collect.js';
export { channelMoments } from './collect.js';

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions extends PictureOptions {
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
  /**
   * Threads that decode (default: every available core; 1 decodes on the
   * calling thread). Small folders are decoded on the calling thread.
   */
  threads?: number;
}

const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };
const subdirs = (p: string) => readdirSync(p).filter((n) => !n.startsWith('.') && isDir(join(p, n))).sort();

/** Whether `dir` looks like an image folder: class subfolders (or train/ and test/ holding them) with image files. */
export function isImageFolder(dir: string): boolean {
  if (!isDir(dir)) return false;
  const root = isDir(join(dir, 'train')) ? join(dir, 'train') : dir;
  return subdirs(root).some((c) => readdirSync(join(root, c)).some((f) => IMAGE_FILE_NAME.test(f)));
}

/** A class folder's image files, and its pictures in formats this library does not read (to be named as skipped). */
interface ClassFiles { name: string; files: string[]; others: string[] }

/** The class folders of `root` and their image files, checked: at least two classes, none empty. */
function listClasses(root: string, classNames?: string[]): ClassFiles[] {
  const names = subdirs(root);
  if (names.length === 0) throw new Error(`${root}: no class folders (an image folder holds one subfolder of images per class)`);
  if (!classNames && names.length < 2) throw new Error(`${root}: only one class folder (${names[0]}); a classifier needs at least two`);
  if (classNames) {
    const extra = names.filter((n) => !classNames.includes(n));
    if (extra.length) throw new Error(`${root}: class folder${extra.length > 1 ? 's' : ''} ${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not among the training classes (${classNames.join(', ')})`);
  }
  return names.map((name) => {
    const all = readdirSync(join(root, name)).filter((f) => !f.startsWith('.')).sort();
    const files = all.filter((f) => IMAGE_FILE_NAME.test(f)), others = all.filter((f) => OTHER_PICTURE_FILE.test(f));
    if (files.length === 0) {
      const kinds = [...new Set(others.map((f) => /\.([^.]+)$/.exec(f)![1].toUpperCase()))].join(', ');
      throw new Error(`${join(root, name)}: class folder with no PNG, JPEG or PGM files${others.length ? ` (it holds ${others.length} ${kinds} picture${others.length > 1 ? 's' : ''}, which are not read: convert them, e.g. to JPEG)` : ''}`);
    }
    return { name, files: files.map((f) => join(root, name, f)), others: others.map((f) => join(root, name, f)) };
  });
}

/**
 * Loads an image folder: `loadImageFolder('photos/', { imageSize: 32, valSize: 0.1 })`.
 * Errors name the folder or file and what is wrong.
 */
export async function loadImageFolder(dir: string, o: ImageFolderOptions = {}): Promise<ImageFolder> {
  if (!isDir(dir)) throw new Error(`${dir}: no such folder`);
  const hasSplits = isDir(join(dir, 'train'));
  const trainClasses = listClasses(hasSplits ? join(dir, 'train') : dir);
  const classNames = trainClasses.map((c) => c.name);
  if (classNames.length > 65_536) throw new Error(`${dir}: ${classNames.length} classes, more than 65,536`);
  const testClasses = hasSplits && isDir(join(dir, 'test')) ? listClasses(join(dir, 'test'), classNames) : null;
  const cacheFile = o.cache ? join(o.cache, `${cacheKey(dir, o, [...trainClasses, ...(testClasses ?? [])].flatMap((c) => [...c.files, ...c.others]))}.folder`) : null;
  const cached = cacheFile ? readCache(cacheFile) : null;
  if (cached) return cached;
  const loaded = await decodeFolder(dir, o, trainClasses, testClasses, classNames);
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
  // v2: with no imageSize, a first picture past MAX_DEFAULT_SIDE is refused (a v1 cache of one would bypass that).
  // v3: JPEGs are turned upright by their EXIF orientation, and large ones read at 1/8 scale for small sizes.
  h.update(JSON.stringify({ v: 3, dir: resolve(dir), imageSize: o.imageSize, channels: o.channels, fit: o.fit, valSize: o.valSize, seed: o.seed, strict: o.strict, maxSide: o.maxSide }));
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
    classNames: f.classNames, shape: f.shape, skipped: f.skipped, normalization: f.normalization, pictureSizes: f.pictureSizes, counts: splits.map((d) => (d ? d.count : -1)),
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
    bytes = readFileCapped(file, 'a folder cache');
  } catch {
    return null;
  }
  try {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CACHE_MAGIC) return null;
    const hl = dv.getUint32(8, true);
    if (12 + hl > bytes.length) return null;
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hl))) as { classNames: string[]; shape: [number, number, number]; skipped: ImageFolder['skipped']; normalization: ImageFolder['normalization']; pictureSizes?: ImageFolder['pictureSizes']; counts: number[] };
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
    if (!train || !h.pictureSizes) return null;
    return { classNames: h.classNames, shape: h.shape, train, val, test, skipped: h.skipped, normalization: h.normalization, pictureSizes: h.pictureSizes, fromCache: true };
  } catch {
    return null;
  }
}

/** Decodes and prepares every image of the folder, on worker threads when it is large. */
async function decodeFolder(dir: string, o: ImageFolderOptions, trainClasses: ClassFiles[], testClasses: ClassFiles[] | null, classNames: string[]): Promise<ImageFolder> {
  const { size: given, fit, digit } = checkPictureOptions(o, 'loadImageFolder');
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 256)) throw new Error(`loadImageFolder: threads must be an integer from 1 to 256, got ${JSON.stringify(o.threads)}`);
  const skipped: ImageFolder['skipped'] = [];
  // Pictures in formats not read are named first (and end a strict load), as bad files are.
  skipUnread([...trainClasses, ...(testClasses ?? [])].flatMap((c) => c.others), o.strict, skipped);
  const items = [...trainClasses.map((c) => ({ c, test: false })), ...(testClasses ?? []).map((c) => ({ c, test: true }))]
    .flatMap(({ c, test }) => c.files.map((file) => ({ file, label: classNames.indexOf(c.name), test })));
  const settings = { fit, maxSide: o.maxSide };
  let done = 0;
  const note = (file: string, r: Decoded): Decoded => {
    if ('reason' in r) {
      if (o.strict) throw new Error(`${file}: ${r.reason}`);
      skipped.push({ file, reason: r.reason });
    }
    o.onProgress?.(++done, items.length);
    return r;
  };
  // The size: given, or the first readable training image's (read here, before the rest is shared out).
  let size = digit ? [28, 28] as [number, number] : given;
  const results: Decoded[] = [];
  if (!size) {
    for (const it of items) {
      const r = note(it.file, decodeFile(it.file, { ...settings, size: null }));
      results.push(r);
      if ('px' in r) { size = firstPictureSize(r.size[0], r.size[1], it.file, 'loadImageFolder'); break; }
    }
    if (!size) throw new Error(`${dir}: no readable training image (${skipped.length} skipped; first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  }
  const rest = items.slice(results.length).map((it) => it.file);
  const threads = o.threads ?? Math.min(await availableCores(), Math.ceil(rest.length / 2_000));
  results.push(...await decodeFiles(rest, { ...settings, size }, threads, (k, r) => note(rest[k], r)));
  const tr = fitted(), te = fitted();
  results.forEach((r, k) => {
    if ('px' in r) addFitted(items[k].test ? te : tr, r, items[k].label, r.from);
  });
  return finishPictures(dir, classNames, size, tr, testClasses ? te : null, o, skipped);
}
