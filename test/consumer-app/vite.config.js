// README's "Use it in a web app" vite.config, as a consumer writes it.
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // Serve the package's own files where its import.meta.url says (its kernels and sample are next to it).
  optimizeDeps: { exclude: ['cnn-wasm'] },
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022' },
});
