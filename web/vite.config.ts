import { defineConfig } from 'vite';

// The kernels are plain wasm modules with no JS glue; they are referenced with
// `new URL('../../pkg/kernels.*.wasm', import.meta.url)` and emitted as assets,
// so the loader can check SIMD support before compiling the SIMD build.
export default defineConfig({
  root: __dirname,
  base: './',
  server: { fs: { allow: ['..'] } },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
});
