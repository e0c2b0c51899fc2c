/**
 * Node-only additions (file system): `import { saveModel, loadModel } from 'cnn-wasm/node'`.
 * Kept apart from the main entry so browser bundles never see node:fs.
 * This entry's loadModel reads a path synchronously; the main entry's
 * (asynchronous) also takes URLs, indexeddb:// names, Blobs and bytes.
 */
export { saveModel, loadModel } from './model-file-node.js';
export { writeFileAtomic } from './io/files.js';
export { readSplit, sampleDir } from './data/sample.js';
export { MAX_IDX_VALUES } from './data/idx.js';
export { parseIdx } from './data/idx-node.js';

export { startServer, type ServeOptions } from './serve/http.js';
export * from './index.js';
export { loadImageFolder, isImageFolder, type ImageFolderOptions } from './data/folder.js';
