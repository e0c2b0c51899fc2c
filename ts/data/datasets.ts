/**
 * Data sets by name: full MNIST (downloaded, verified, cached), the bundled
 * real-MNIST sample, Fashion-MNIST (Debian's dataset-fashion-mnist package,
 * else download), or any directory holding the four IDX files.
 */
import { removeStaleTempsIn } from '../io/tempfiles.js';
import { existsSync } from 'node:fs';
import { readFileCapped } from '../io/files.js';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DownloadError, downloadVerified, verifyFile, type RemoteFile } from './download.js';
import type { LabelledImages } from './idx.js';
import { readSplit, sampleDir } from './sample.js';
import { isImageFolder, loadImageFolder, type ImageFolderOptions } from './folder.js';

/** Train and test splits of a data set. */
export interface DatasetSplits {
  /** 'mnist', 'mnist-sample', 'fashion-mnist', or the directory given. */
  name: string;
  train: LabelledImages;
  test: LabelledImages;
  /** Where the files came from (printed by the CLI). */
  source: string;
  /** Set when the data set asked for could not be had and another was used. */
  fallbackReason?: string;
  /** Names of the classes by label, when the data set has them (Fashion-MNIST, image folders). */
  classNames?: string[];
  /** Image folders: [C, H, W] of every image, the stratified validation hold-out, the files skipped, the training images' per-channel normalisation. */
  shape?: [number, number, number];
  normalization?: { scale: number; mean: number[]; std: number[] };
  val?: LabelledImages | null;
  skipped?: { file: string; reason: string }[];
  /** Image folders: the range of the pictures' own heights and widths before fitting (see ImageFolder). */
  pictureSizes?: { height: [number, number]; width: [number, number] };
}

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const DATASET_NAMES = ['mnist', 'mnist-sample', 'fashion-mnist'] as const;

const MiB = 1024 * 1024;
const SPLIT_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** MNIST: the mirrors torchvision/TFDS use, with TFDS's sha256 of each .gz. */
export const MNIST = {
  mirrors: ['https://storage.googleapis.com/cvdf-datasets/mnist/', 'https://ossci-datasets.s3.amazonaws.com/mnist/'],
  files: [
    // maxBytes: each file's size (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes) with room to spare.
    { name: SPLIT_FILES[0], sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609', hashOf: 'download', maxBytes: 16 * MiB },
    { name: SPLIT_FILES[1], sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c', hashOf: 'download', maxBytes: MiB },
    { name: SPLIT_FILES[2], sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6', hashOf: 'download', maxBytes: 4 * MiB },
    { name: SPLIT_FILES[3], sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6', hashOf: 'download', maxBytes: MiB },
  ] as RemoteFile[],
};

/**
 * Fashion-MNIST: the project's own mirror. Verified by the sha256 of the
 * decompressed IDX bytes, because copies (Debian's among them) recompress the
 * .gz and so change its hash but not its content.
 */
export const FASHION_MNIST = {
  systemDir: '/usr/share/datasets/fashion-mnist',
  mirrors: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
  files: [
    // Inflated sizes: 47,040,016 / 60,008 / 7,840,016 / 10,008 bytes; compressed ~26 MB / 29 KB / 4.4 MB / 5 KB.
    { name: SPLIT_FILES[0], sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888', hashOf: 'content', maxBytes: 48 * MiB, maxInflatedBytes: 47_040_016 },
    { name: SPLIT_FILES[1], sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9', hashOf: 'content', maxBytes: MiB, maxInflatedBytes: 60_008 },
    { name: SPLIT_FILES[2], sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b', hashOf: 'content', maxBytes: 8 * MiB, maxInflatedBytes: 7_840_016 },
    { name: SPLIT_FILES[3], sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34', hashOf: 'content', maxBytes: MiB, maxInflatedBytes: 10_008 },
  ] as RemoteFile[],
};

/** The cache directory: $CNN_WASM_CACHE, else $XDG_CACHE_HOME/cnn-wasm, else ~/.cache/cnn-wasm. */
export function cacheDir(): string {
  if (process.env.CNN_WASM_CACHE) return resolve(process.env.CNN_WASM_CACHE);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'cnn-wasm');
}

/**
 * Mirrors from $CNN_WASM_MIRROR: a base URL under which `mnist/` and
 * `fashion-mnist/` hold the four .gz files of each (the layout of the cache),
 * e.g. an internal server or a proxy's URL. Files are still checked by sha256.
 */
export function envMirror(dataset: 'mnist' | 'fashion-mnist'): string[] | undefined {
  const base = process.env.CNN_WASM_MIRROR;
  if (!base) return undefined;
  if (!/^https?:\/\//.test(base)) throw new DatasetNameError(`CNN_WASM_MIRROR must be an http:// or https:// URL, got ${JSON.stringify(base)}`);
  return [`${base.replace(/\/+$/, '')}/${dataset}/`];
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Override the cache directory. */
  cacheDir?: string;
  /** Override mirrors (tests serve files from a local HTTP server). */
  mirrors?: { mnist?: string[]; fashion?: string[] };
  /** Progress of downloads: file name, bytes so far, total (null if unknown). */
  onDownload?(file: string, received: number, total: number | null): void;
  /** Called before a download starts, with the file name. */
  onDownloadStart?(file: string): void;
  idleTimeoutMs?: number;
  /** Whole-file deadline of each download (default 10 min). */
  deadlineMs?: number;
  /** Skip the system Fashion-MNIST directory (tests). */
  ignoreSystemFashion?: boolean;
  /** 'test': only the test split is needed (eval): a directory need not hold the training files, and `train` is empty. */
  splits?: 'both' | 'test';
  /** How an image folder is read (see loadImageFolder). Without a test/ folder, the hold-out (valSize, default 10%) is the test split. */
  folder?: ImageFolderOptions;
}

/** A cached file's bytes, or none when it cannot be read as a regular file of at most `maxBytes` (then it is downloaded again). */
function readIfRegular(path: string, maxBytes: number | undefined): Uint8Array {
  try {
    return readFileCapped(path, 'a data set file', maxBytes);
  } catch {
    return new Uint8Array(0);
  }
}

/** Makes sure every file is in `dir`, verified; downloads what is missing or corrupt. */
async function ensureFiles(dir: string, spec: { mirrors: string[]; files: RemoteFile[] }, o: LoadDatasetOptions): Promise<void> {
  removeStaleTempsIn(dir); // leftovers of killed runs go even when every file is already here
  for (const f of spec.files) {
    const dest = join(dir, f.name);
    if (existsSync(dest) && verifyFile(readIfRegular(dest, f.maxBytes), f)) continue;
    o.onDownloadStart?.(f.name);
    await downloadVerified(spec.mirrors, f, dest, { onProgress: (r, t) => o.onDownload?.(f.name, r, t), idleTimeoutMs: o.idleTimeoutMs, deadlineMs: o.deadlineMs });
  }
}

function fromDir(name: string, dir: string, source = dir, splits: 'both' | 'test' = 'both'): DatasetSplits {
  if (splits === 'both') return { name, train: readSplit(dir, 'train'), test: readSplit(dir, 't10k'), source };
  const test = readSplit(dir, 't10k');
  return { name, train: { images: new Uint8Array(0), labels: new Uint8Array(0), count: 0, rows: test.rows, cols: test.cols }, test, source };
}

/** An image folder as train/test splits (with its hold-out as validation, or as test when it has no test/ folder). */
async function fromFolder(dir: string, o: ImageFolderOptions): Promise<DatasetSplits> {
  const hasTest = existsSync(join(dir, 'test'));
  const f = await loadImageFolder(dir, { ...o, valSize: o.valSize ?? (hasTest ? 0 : 0.1) });
  const [, H, W] = f.shape;
  const split = (d: { images: Uint8Array; labels: Uint8Array | Uint16Array; count: number }): LabelledImages => ({ images: d.images, labels: d.labels, count: d.count, rows: H, cols: W });
  const test = f.test ?? f.val;
  if (!test) throw new Error(`${dir}: no test/ folder and no hold-out (valSize 0): nothing to test on`);
  return {
    name: dir, source: `image folder ${resolve(dir)} (${f.classNames.length} classes, ${f.shape.join('x')})`,
    train: split(f.train), test: split(test), val: f.test && f.val ? split(f.val) : null,
    classNames: f.classNames, shape: f.shape, skipped: f.skipped, normalization: f.normalization, pictureSizes: f.pictureSizes,
  };
}

/** Loads a data set by name or directory. */
export async function loadDataset(spec: string, o: LoadDatasetOptions = {}): Promise<DatasetSplits> {
  const cache = o.cacheDir ?? cacheDir();
  if (spec === 'mnist-sample') return fromDir('mnist-sample', sampleDir(), 'bundled sample of real MNIST (9,000 train / 1,000 test)');
  if (spec === 'mnist') {
    const dir = join(cache, 'mnist');
    try {
      await ensureFiles(dir, { ...MNIST, mirrors: o.mirrors?.mnist ?? envMirror('mnist') ?? MNIST.mirrors }, o);
    } catch (e) {
      if (!(e instanceof DownloadError)) throw e;
      const s = fromDir('mnist-sample', sampleDir(), 'bundled sample of real MNIST (9,000 train / 1,000 test)');
      return { ...s, fallbackReason: e.message };
    }
    return fromDir('mnist', dir);
  }
  if (spec === 'fashion-mnist') {
    const sys = FASHION_MNIST.systemDir;
    if (!o.ignoreSystemFashion && SPLIT_FILES.every((f) => existsSync(join(sys, f)))) return { ...fromDir('fashion-mnist', sys), classNames: FASHION_MNIST_CLASSES };
    const dir = join(cache, 'fashion-mnist');
    await ensureFiles(dir, { ...FASHION_MNIST, mirrors: o.mirrors?.fashion ?? envMirror('fashion-mnist') ?? FASHION_MNIST.mirrors }, o);
    return { ...fromDir('fashion-mnist', dir), classNames: FASHION_MNIST_CLASSES };
  }
  if (spec.includes('/') || spec.startsWith('.') || existsSync(spec)) {
    if (!existsSync(spec)) throw new Error(`dataset directory ${spec} does not exist`);
    if (isImageFolder(spec)) return fromFolder(spec, { cache: join(cache, 'folders'), ...o.folder });
    return fromDir(spec, resolve(spec), undefined, o.splits);
  }
  throw new DatasetNameError(`unknown dataset '${spec}' (valid: ${DATASET_NAMES.join(', ')}, or a directory holding train-/t10k- images and labels IDX files)`);
}

/** An unknown data set name (a usage error). */
export class DatasetNameError extends Error {}
