/** Node-side loading of IDX data sets from a directory (the bundled sample, Fashion-MNIST, user directories). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileCapped } from '../io/files.js';
import { IdxError, MAX_IDX_VALUES, pairImagesLabels, type LabelledImages } from './idx.js';
import { parseIdx } from './idx-node.js';

/** Directory of the bundled real-MNIST sample (9,000 train / 1,000 test digits). */
export function sampleDir(): string {
  return fileURLToPath(new URL('../../data/mnist-sample/', import.meta.url));
}

/** Finds `<prefix>-<kind>` with or without .gz in `dir`. */
function findFile(dir: string, base: string): string {
  for (const f of [base, `${base}.gz`]) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  throw new IdxError(`${dir}: missing ${base} (or ${base}.gz)`);
}

function readFileNamed(path: string): Uint8Array {
  try {
    return readFileCapped(path, 'an IDX file', MAX_IDX_VALUES + 64); // a gzip file is smaller than what it holds
  } catch (e) {
    throw new IdxError((e as Error).message);
  }
}

/** Reads one split ('train' or 't10k') of an MNIST-layout directory. */
export function readSplit(dir: string, split: 'train' | 't10k'): LabelledImages {
  if (split !== 'train' && split !== 't10k') {
    throw new Error(`readSplit: unknown split ${JSON.stringify(split)}: the MNIST layout names its splits 'train' and 't10k' (the test split)`);
  }
  const img = findFile(dir, `${split}-images-idx3-ubyte`);
  const lab = findFile(dir, `${split}-labels-idx1-ubyte`);
  return pairImagesLabels(parseIdx(readFileNamed(img), img, 3), parseIdx(readFileNamed(lab), lab, 1), img, lab);
}
