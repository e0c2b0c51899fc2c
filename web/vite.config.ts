import { defineConfig } from 'vite';
import wasm from 'vite-plugin-wasm';

// The page is served cross-origin isolated (COOP + COEP), so that it has
// SharedArrayBuffer and training can use several workers; a static host must
// send the same two headers (README, "Browser demo").
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: __dirname,
  base: './',
  plugins: [wasm()],
  server: { fs: { allow: ['..'] }, headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es', plugins: () => [wasm()] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
});
