import { defineConfig } from 'vite';
import wasm from 'vite-plugin-wasm';

// vite-plugin-wasm loads pkg/*.wasm as ES modules (their exports); the worker
// imports each build lazily so only the chosen one is compiled.
export default defineConfig({
  root: __dirname,
  base: './',
  plugins: [wasm()],
  server: { fs: { allow: ['..'] } },
  worker: { format: 'es', plugins: () => [wasm()] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
});
