/**
 * Pictures in a page as a data set (browser-safe): the files of a chosen or
 * dropped folder (one subfolder per class, or train/ and test/ holding
 * them), or pictures given per class name: File and Blob (PNG, JPEG, PGM),
 * ImageBitmap, <img>, <canvas>, OffscreenCanvas and ImageData. Each is
 * fitted, split and measured by the same code as an image folder in Node
 * (data/collect.ts), so a model trained in a page prepares inputs as the
 * CLI does. PNG and JPEG files are decoded by the browser (createImageBitmap,
 * no colour-space conversion), but for a JPEG at least 8 times the size it
 * is fitted to, which the library reads at 1/8 scale (as in Node: the same
 * bytes); PGM by the library; in Node, by the library's own decoders (as
 * loadImageFolder).
 */
import { IMAGE_FILE_NAME, imageFormat, jpegSize, MAX_IMAGE_SIDE, OTHER_PICTURE_FILE, pgmToRgba, pngSize } from '../image/formats.js';
import { isImageLike, type ImageLike } from '../image/prepare.js';
import { jpegEighthToFit, type ReducedRgba } from '../image/jpeg-eighth.js';
import { isNode } from '../env.js';
import { addFitted, checkPictureOptions, finishPictures, firstPictureSize, fitPicture, fitted, ImageSizeNeeded, skipUnread, type ImageFolder, type PictureOptions } from './collect.js';

/** A picture a page has: a file, a decoded bitmap, an element or pixels. */
export type PictureSource = Blob | ImageLike | CanvasImageSource;

/** Pictures per class name: `{ cat: [file1, file2], dog: [img1] }`. */
export type PicturesByClass = Readonly<Record<string, readonly PictureSource[]>>;

/** A file with the path it had in the chosen folder: what a drop of a folder yields (and what survives a postMessage, which drops webkitRelativePath). */
export interface PathedFile { path: string; file: Blob }

/**
 * What {@link loadPictures} reads: a folder's files (the FileList of an
 * `<input webkitdirectory>`, or files with their paths, e.g. from a drop),
 * pictures per class, or both splits.
 */
export type PicturesInput = FileList | readonly File[] | readonly PathedFile[] | PicturesByClass | { train: PicturesByClass; test?: PicturesByClass };

/** Options of {@link loadPictures}. */
export interface PicturesOptions extends PictureOptions {
  /** Largest picture side accepted (default 4,096; checked from the file's header before decoding). */
  maxSide?: number;
  /** Called as pictures are read: done so far, total. */
  onProgress?(done: number, total: number): void;
}


/** One picture to read, with its class and split. */
interface Item { source: string; className: string; test: boolean; picture: PictureSource }

/**
 * A folder's files grouped by the folder above each (its class); a top train/
 * or test/ folder names the split. Pictures in formats not read (HEIC, WebP,
 * ...) go to `others`, to be named as skipped, as loadImageFolder names them.
 */
function itemsOfFiles(given: readonly (File | PathedFile)[], others: string[]): Item[] {
  const items: Item[] = [];
  const files = given.map((f) => ('path' in f && 'file' in f ? f.file : f));
  const paths = given.map((f) => ('path' in f && 'file' in f ? f.path : (f as File & { webkitRelativePath?: string }).webkitRelativePath || (f as File).name));
  const parts = paths.map((p) => p.split('/').filter((s) => s !== ''));
  if (parts.some((p) => p.length < 2)) {
    const loose = paths[parts.findIndex((p) => p.length < 2)];
    throw new Error(`loadPictures: ${loose} is not in a class folder; choose a folder holding one subfolder of images per class (or pass pictures per class: { cat: [...], dog: [...] })`);
  }
  // With train/ (and test/) one level below the chosen folder, the class is the folder below those.
  const splitAt = parts.every((p) => p.length >= 4) && parts.some((p) => p[1] === 'train') ? 1 : parts.every((p) => p.length >= 3) && parts.some((p) => p[0] === 'train') ? 0 : -1;
  parts.forEach((p, i) => {
    const name = p[p.length - 1];
    if (splitAt >= 0 && p[splitAt] !== 'train' && p[splitAt] !== 'test') return;
    if (!name.startsWith('.') && OTHER_PICTURE_FILE.test(name)) others.push(paths[i]);
    if (name.startsWith('.') || !IMAGE_FILE_NAME.test(name)) return; // .DS_Store, notes.txt: not images, as in a folder on disk
    items.push({ source: paths[i], className: p[p.length - 2], test: splitAt >= 0 && p[splitAt] === 'test', picture: files[i] });
  });
  return items.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

function itemsOfClasses(byClass: PicturesByClass, test: boolean): Item[] {
  if (typeof byClass !== 'object' || byClass === null) throw new Error('loadPictures: expected pictures per class name ({ cat: [...], dog: [...] })');
  return Object.keys(byClass).sort().flatMap((className) => {
    const list = byClass[className];
    if (!Array.isArray(list)) throw new Error(`loadPictures: class ${className}: expected an array of pictures, got ${typeof list}`);
    return list.map((picture, i) => ({ source: `${test ? 'test/' : ''}${className}/${picture instanceof File ? picture.name : i}`, className, test, picture }));
  });
}

const isPathed = (f: unknown): f is PathedFile => typeof f === 'object' && f !== null && typeof (f as PathedFile).path === 'string' && typeof Blob !== 'undefined' && (f as PathedFile).file instanceof Blob;
const isFileList = (x: unknown): x is FileList | readonly (File | PathedFile)[] =>
  (typeof FileList !== 'undefined' && x instanceof FileList) || (Array.isArray(x) && x.every((f) => (typeof File !== 'undefined' && f instanceof File) || isPathed(f)));

/**
 * Loads pictures as a data set, prepared as the CLI prepares an image folder:
 * `await loadPictures(input.files, { imageSize: 32, valSize: 0.2 })`. Class
 * names are the folder names (or keys), sorted. A bad picture is named and
 * skipped (or ends the load with `strict`).
 */
export async function loadPictures(input: PicturesInput, o: PicturesOptions = {}): Promise<ImageFolder> {
  const { size: given, fit, digit } = checkPictureOptions(o, 'loadPictures');
  let items: Item[];
  const others: string[] = [];
  if (isFileList(input)) items = itemsOfFiles(Array.from(input as ArrayLike<File | PathedFile>), others);
  else if (typeof input === 'object' && input !== null && 'train' in input && typeof input.train === 'object' && !Array.isArray(input.train)) {
    const split = input as { train: PicturesByClass; test?: PicturesByClass };
    items = [...itemsOfClasses(split.train, false), ...(split.test ? itemsOfClasses(split.test, true) : [])];
  } else items = itemsOfClasses(input as PicturesByClass, false);
  const classNames = [...new Set(items.filter((it) => !it.test).map((it) => it.className))].sort();
  if (items.length === 0) throw new Error('loadPictures: no PNG, JPEG or PGM pictures were given');
  if (classNames.length < 2) throw new Error(`loadPictures: ${classNames.length === 1 ? `only one class (${classNames[0]})` : 'no training pictures'}; a classifier needs at least two classes`);
  const extra = [...new Set(items.filter((it) => it.test && !classNames.includes(it.className)).map((it) => it.className))];
  if (extra.length) throw new Error(`loadPictures: test class${extra.length > 1 ? 'es' : ''} ${extra.join(', ')} not among the training classes (${classNames.join(', ')})`);
  const skipped: ImageFolder['skipped'] = [];
  skipUnread(others.sort(), o.strict, skipped);
  const tr = fitted(), te = fitted();
  let size = digit ? [28, 28] as [number, number] : given, done = 0;
  for (const it of items) {
    try {
      const img = await pixelsOf(it.picture, it.source, o.maxSide ?? MAX_IMAGE_SIDE, size && !digit ? size : null);
      size ??= firstPictureSize(img.height, img.width, it.source, 'loadPictures');
      const own = 'full' in img ? (img as ReducedRgba).full : img;
      addFitted(it.test ? te : tr, fitPicture(img, size, fit, it.source), classNames.indexOf(it.className), [own.height, own.width]);
    } catch (e) {
      if (e instanceof ImageSizeNeeded) throw e;
      const reason = (e as Error).message.replace(`${it.source}: `, '');
      if (o.strict) throw new Error(`${it.source}: ${reason}`);
      skipped.push({ file: it.source, reason });
    }
    o.onProgress?.(++done, items.length);
  }
  if (!size) throw new Error(`loadPictures: no readable training picture (${skipped.length} skipped; first: ${skipped[0]?.file}: ${skipped[0]?.reason})`);
  return finishPictures('loadPictures', classNames, size, tr, items.some((it) => it.test) ? te : null, o, skipped);
}

/** A 2D context's pixels of a drawable source at its own size. */
function drawnPixels(src: CanvasImageSource, width: number, height: number, source: string, maxSide: number): ImageLike {
  if (!(width >= 1 && height >= 1)) throw new Error(`${source}: an empty picture (${width}x${height}${typeof HTMLImageElement !== 'undefined' && src instanceof HTMLImageElement ? '; an <img> must have loaded' : ''})`);
  if (width > maxSide || height > maxSide) throw new Error(`${source}: a picture of ${width}x${height}, larger than the ${maxSide}x${maxSide} limit (scale it down)`);
  if (typeof OffscreenCanvas === 'undefined' && typeof document === 'undefined') throw new Error(`${source}: drawing a picture needs a browser's canvas (OffscreenCanvas)`);
  const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
  const g = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D | null;
  if (!g) throw new Error(`${source}: no 2D canvas context to read the picture's pixels`);
  g.drawImage(src, 0, 0);
  return g.getImageData(0, 0, width, height);
}

/** The size a drawable source has. */
function sizeOf(src: CanvasImageSource): [number, number] {
  if (typeof HTMLImageElement !== 'undefined' && src instanceof HTMLImageElement) return [src.naturalWidth, src.naturalHeight];
  if (typeof HTMLVideoElement !== 'undefined' && src instanceof HTMLVideoElement) return [src.videoWidth, src.videoHeight];
  const s = src as { width: number | { baseVal: { value: number } }; height: number | { baseVal: { value: number } } };
  const v = (x: number | { baseVal: { value: number } }) => (typeof x === 'number' ? x : x.baseVal.value);
  return [v(s.width), v(s.height)];
}

/**
 * A picture's RGBA pixels: ImageData as it is; a file decoded (its declared
 * size checked first); anything drawable drawn on a canvas of its own size.
 * With `fitTo` (the [height, width] the picture is to be shrunk to), a JPEG
 * file at least 8 times that size each way is decoded at 1/8 scale by the
 * library, here as in Node (see DecodeOptions), the result carrying its own
 * size in `full`.
 */
export async function pixelsOf(picture: PictureSource, source: string, maxSide = MAX_IMAGE_SIDE, fitTo: readonly [number, number] | null = null): Promise<ImageLike | ReducedRgba> {
  if (isImageLike(picture)) return picture;
  if (typeof Blob !== 'undefined' && picture instanceof Blob) {
    const bytes = new Uint8Array(await picture.arrayBuffer());
    const format = imageFormat(bytes);
    if (format === null) throw new Error(`${source}: unsupported image format (PNG, JPEG and PGM are supported)`);
    if (format === 'pgm') return pgmToRgba(bytes, source, { maxSide });
    const declared = format === 'png' ? pngSize(bytes) : jpegSize(bytes);
    if (!declared) throw new Error(`${source}: not a readable ${format.toUpperCase()} (no size in its header)`);
    if (declared.width > maxSide || declared.height > maxSide) throw new Error(`${source}: ${format.toUpperCase()} is ${declared.width}x${declared.height}, larger than the ${maxSide}x${maxSide} limit (scale it down)`);
    const reduced = format === 'jpeg' && fitTo ? jpegEighthToFit(bytes, fitTo) : null;
    if (reduced) return reduced;
    if (typeof createImageBitmap === 'undefined') {
      if (!isNode) throw new Error(`${source}: this environment cannot decode ${format.toUpperCase()} (no createImageBitmap)`);
      // Node: the library's own decoders, as loadImageFolder reads files (a computed specifier keeps them out of browser bundles).
      const decoder = './../image/decode.js';
      const { decodeRgba } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ new URL(/* webpackIgnore: true */ decoder, import.meta.url).href)) as typeof import('../image/decode.js');
      return decodeRgba(bytes, source, { maxSide });
    }
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(new Blob([bytes]), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    } catch (e) {
      throw new Error(`${source}: not a readable ${format.toUpperCase()} (${(e as Error).message || 'the browser could not decode it'})`);
    }
    try {
      return drawnPixels(bitmap, bitmap.width, bitmap.height, source, maxSide);
    } finally {
      bitmap.close();
    }
  }
  if (typeof picture === 'object' && picture !== null && 'width' in picture) {
    const [w, h] = sizeOf(picture as CanvasImageSource);
    return drawnPixels(picture as CanvasImageSource, w, h, source, maxSide);
  }
  throw new Error(`${source}: not a picture (expected a File or Blob, ImageBitmap, <img>, <canvas>, OffscreenCanvas or ImageData)`);
}
