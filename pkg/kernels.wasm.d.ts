// Types for `import('cnn-wasm/pkg/kernels.simd.wasm')` and `.../kernels.scalar.wasm`
// (bundlers' wasm plugins, e.g. vite-plugin-wasm): the instance's exports, as
// `initBackend({ wasm: { simd: () => import('cnn-wasm/pkg/kernels.simd.wasm') } })` takes them.
declare module 'cnn-wasm/pkg/kernels.simd.wasm' {
  const exports: Record<string, unknown>;
  export = exports;
}
declare module 'cnn-wasm/pkg/kernels.scalar.wasm' {
  const exports: Record<string, unknown>;
  export = exports;
}
