/** `cnn-wasm info`: version, the backend chosen and why, what the engine supports. */
import type { Command } from 'commander';
import { autoBackend, initBackend, relaxedSupported, simdSupported } from '../backend/load.js';
import { VERSION } from '../version.js';
import { parseBackend } from './options.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('print version, the backend chosen and why, and the WebAssembly SIMD and relaxed SIMD support')
    .option('--backend <name>', 'backend to load: auto | relaxed | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (opts: { backend: string; json?: boolean }) => {
      const choice = parseBackend(opts.backend);
      const be = await initBackend({ backend: choice });
      const info = {
        version: VERSION,
        backend: be.name,
        reason: choice === 'auto' ? `auto: ${autoBackend().reason}` : `asked for with --backend ${choice}`,
        simdSupported: simdSupported(),
        relaxedSimdSupported: relaxedSupported(),
        node: process.versions.node,
        wasmMemoryBytes: be.heap.memoryBytes,
      };
      if (opts.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(`cnn-wasm ${info.version}`);
      const what = be.relaxed ? 'WebAssembly SIMD128 with relaxed SIMD\'s fused multiply-add' : be.simd ? 'WebAssembly SIMD128' : 'scalar WebAssembly';
      console.log(`backend:        ${info.backend} (${what}): ${info.reason}`);
      console.log(`SIMD supported: ${info.simdSupported ? 'yes' : 'no'}; relaxed SIMD: ${info.relaxedSimdSupported ? 'yes' : 'no'}`);
      if (be.name === 'relaxed') console.log('bits:           the same on every engine of a machine with FMA, not those of --backend simd (which are the same everywhere)');
      console.log(`node:           ${info.node}`);
    });
}
