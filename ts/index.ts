/**
 * cnn-wasm: train and run small convolutional networks in WebAssembly.
 *
 * Start with `await initBackend()`; everything else takes the backend it returns
 * (or the default one).
 */
export { initBackend, getBackend, setBackend, simdSupported, instantiateBackend, defaultWasmUrl, Backend } from './backend/load.js';
export type { BackendName, BackendChoice, BackendOptions, WasmSource } from './backend/load.js';
export { F32Buffer, Heap } from './backend/memory.js';
export type { KernelExports } from './backend/exports.js';
export { gemm } from './kernels/gemm.js';
export type { GemmParams } from './kernels/gemm.js';
export { VERSION } from './version.js';
