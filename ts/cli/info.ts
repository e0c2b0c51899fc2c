/** `cnn-wasm info`: version, the backend 'auto' picks, SIMD support. */
import type { Command } from 'commander';
import { initBackend, simdSupported } from '../backend/load.js';
import { VERSION } from '../version.js';
import { parseBackend } from './options.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('print version, chosen backend and WebAssembly SIMD support')
    .option('--backend <name>', 'backend to load: auto | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (opts: { backend: string; json?: boolean }) => {
      const be = await initBackend({ backend: parseBackend(opts.backend) });
      const info = {
        version: VERSION,
        backend: be.name,
        simdSupported: simdSupported(),
        node: process.versions.node,
        wasmMemoryBytes: be.heap.memoryBytes,
      };
      if (opts.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(`cnn-wasm ${info.version}`);
      console.log(`backend:        ${info.backend}${be.simd ? ' (WebAssembly SIMD128)' : ' (scalar WebAssembly)'}`);
      console.log(`SIMD supported: ${info.simdSupported ? 'yes' : 'no'}`);
      console.log(`node:           ${info.node}`);
    });
}
