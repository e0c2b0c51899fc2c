/**
 * IDX data over fetch (browsers, and Node 18+): files gzipped or not, and the
 * bundled real-MNIST sample, whose four files ship in the package's data/
 * and are found next to this module (bundlers such as Vite emit them as
 * assets from the `new URL(..., import.meta.url)` below).
 */
import type { Dataset } from '../engine/types.js';
import { isNode } from '../env.js';
import { IdxError, pairImagesLabels, parseIdxBytes, type IdxArray } from './idx.js';


/** Fetches an IDX file (gzip or not) and parses it; errors name the URL. `expectDims` checks the dimension count. */
export async function fetchIdx(url: string | URL, expectDims?: number): Promise<IdxArray> {
  const name = String(url);
  let bytes: Uint8Array;
  if (isNode && name.startsWith('file:')) {
    // Node's fetch has no file: URLs (the package's own files, when this runs in Node).
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ /* webpackIgnore: true */ fsName)) as typeof import('node:fs/promises');
    try {
      bytes = await fs.readFile(new URL(name));
    } catch (e) {
      throw new IdxError(`${name}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new IdxError(`${name}: could not be fetched (${(e as Error).message})`);
    }
    if (!res.ok) throw new IdxError(`${name}: fetching failed: HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  // A server may already have removed the gzip layer (Content-Encoding); check the magic.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
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
