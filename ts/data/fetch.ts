/**
 * IDX data over fetch (browsers, and Node 18+): files gzipped or not, and the
 * bundled real-MNIST sample, whose four files ship in the package's data/
 * and are found next to this module (bundlers such as Vite emit them as
 * assets from the `new URL(..., import.meta.url)` below).
 */
import type { Dataset } from '../engine/types.js';
import { isNode } from '../env.js';
import { readBodyCapped, readStreamCapped } from '../io/streams.js';
import { IdxError, MAX_IDX_VALUES, pairImagesLabels, parseIdxBytes, type IdxArray } from './idx.js';


/** Options of {@link fetchIdx}. */
export interface FetchIdxOptions {
  /** Largest file, and largest inflated content of a gzip file, accepted in bytes (default: the IDX limit, 256 Mi values + 64). */
  maxBytes?: number;
}

/**
 * Fetches an IDX file (gzip or not) and parses it; errors name the URL.
 * `expectDims` checks the dimension count. The body and its inflation are
 * read with a ceiling (`maxBytes`): a server that never ends, or a small
 * gzip file that inflates to gigabytes, is refused once past it.
 */
export async function fetchIdx(url: string | URL, expectDims?: number, o: FetchIdxOptions = {}): Promise<IdxArray> {
  const name = String(url);
  const max = o.maxBytes ?? MAX_IDX_VALUES + 64;
  if (!(Number.isInteger(max) && max > 0)) throw new Error(`fetchIdx: maxBytes must be a positive integer, got ${JSON.stringify(o.maxBytes)}`);
  let bytes: Uint8Array;
  if (isNode && name.startsWith('file:')) {
    // Node's fetch has no file: URLs (the package's own files, when this runs in Node); a computed specifier keeps node:fs out of bundles.
    const filesModule = '../io/files.js';
    const files = (await import(/* @vite-ignore */ /* webpackIgnore: true */ new URL(/* webpackIgnore: true */ filesModule, import.meta.url).href)) as typeof import('../io/files.js');
    try {
      bytes = files.readFileCapped(new URL(name).pathname, 'an IDX file', max);
    } catch (e) {
      throw new IdxError((e as Error).message);
    }
  } else {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new IdxError(`${name}: could not be fetched (${(e as Error).message})`);
    }
    if (!res.ok) throw new IdxError(`${name}: fetching failed: HTTP ${res.status}`);
    bytes = await readBodyCapped(res, name, max, 'an IDX file', (m) => new IdxError(m));
  }
  // A server may already have removed the gzip layer (Content-Encoding); check the magic.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const tooLarge = () => new IdxError(`${name}: inflates to more than the ${max.toLocaleString('en-US')} bytes an IDX file may have (maxBytes)`);
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
      bytes = await readStreamCapped(stream, max, tooLarge);
    } catch (e) {
      if (e instanceof IdxError) throw e;
      throw new IdxError(`${name}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  return parseIdxBytes(bytes, name, expectDims);
}

/** Train and test splits from the URLs of the four IDX files. */
export async function fetchSplits(urls: { trainImages: string | URL; trainLabels: string | URL; testImages: string | URL; testLabels: string | URL }): Promise<{ train: Dataset; test: Dataset }> {
  const [ti, tl, si, sl] = await Promise.all([fetchIdx(urls.trainImages, 3), fetchIdx(urls.trainLabels, 1), fetchIdx(urls.testImages, 3), fetchIdx(urls.testLabels, 1)]);
  const tr = pairImagesLabels(ti, tl, String(urls.trainImages), String(urls.trainLabels));
  const te = pairImagesLabels(si, sl, String(urls.testImages), String(urls.testLabels));
  return {
    train: { images: tr.images, labels: tr.labels, count: tr.count },
    test: { images: te.images, labels: te.labels, count: te.count },
  };
}

/** The bundled sample of real MNIST digits: 9,000 train and 1,000 test, fetched from the package. */
export function loadMnistSample(): Promise<{ train: Dataset; test: Dataset }> {
  return fetchSplits({
    trainImages: new URL('../../data/mnist-sample/train-images-idx3-ubyte.gz', import.meta.url),
    trainLabels: new URL('../../data/mnist-sample/train-labels-idx1-ubyte.gz', import.meta.url),
    testImages: new URL('../../data/mnist-sample/t10k-images-idx3-ubyte.gz', import.meta.url),
    testLabels: new URL('../../data/mnist-sample/t10k-labels-idx1-ubyte.gz', import.meta.url),
  });
}
