/** The bundled real-MNIST sample, fetched as emitted assets and gunzipped with DecompressionStream. */
import { pairImagesLabels, parseIdxBytes, type Dataset } from '../../ts/index.js';

const FILES = {
  trainImages: new URL('../../data/mnist-sample/train-images-idx3-ubyte.gz', import.meta.url),
  trainLabels: new URL('../../data/mnist-sample/train-labels-idx1-ubyte.gz', import.meta.url),
  testImages: new URL('../../data/mnist-sample/t10k-images-idx3-ubyte.gz', import.meta.url),
  testLabels: new URL('../../data/mnist-sample/t10k-labels-idx1-ubyte.gz', import.meta.url),
};

async function fetchIdx(url: URL): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url.pathname} failed: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  // A server may already have removed the gzip layer (Content-Encoding); check the magic.
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Train (9,000) and test (1,000) splits of the sample. */
export async function loadSample(): Promise<{ train: Dataset; test: Dataset }> {
  const [ti, tl, si, sl] = await Promise.all([FILES.trainImages, FILES.trainLabels, FILES.testImages, FILES.testLabels].map(fetchIdx));
  const name = (u: URL) => u.pathname.split('/').pop()!;
  const tr = pairImagesLabels(parseIdxBytes(ti, name(FILES.trainImages), 3), parseIdxBytes(tl, name(FILES.trainLabels), 1), 'train images', 'train labels');
  const te = pairImagesLabels(parseIdxBytes(si, name(FILES.testImages), 3), parseIdxBytes(sl, name(FILES.testLabels), 1), 'test images', 'test labels');
  return {
    train: { images: tr.images, labels: tr.labels, count: tr.count },
    test: { images: te.images, labels: te.labels, count: te.count },
  };
}
