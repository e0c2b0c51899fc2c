/**
 * Node-only additions (file system): `import { saveModel, loadModel } from 'cnn-wasm/node'`.
 * Kept apart from the main entry so browser bundles never see node:fs.
 */
export { saveModel, loadModel, writeFileAtomic } from './io/node.js';
export { readSplit, sampleDir } from './data/sample.js';
export { parseIdx, encodeIdx, pairImagesLabels, IdxError, MAX_IDX_VALUES } from './data/idx.js';
export type { IdxArray, LabelledImages } from './data/idx.js';
export * from './index.js';
