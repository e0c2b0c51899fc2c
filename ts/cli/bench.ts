/** `cnn-wasm bench`: side-by-side benchmarks (SIMD vs scalar) printed as a table or one JSON line. */
import type { Command } from 'commander';
import { benchKernels, type KernelResult } from '../bench/kernels.js';
import { UsageError, parseIntFlag } from './options.js';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printKernelRow(r: KernelResult): void {
  console.log(`${pad(r.name, 16)} ${pad(r.simdGflops.toFixed(1), 8, true)} ${pad(r.scalarGflops.toFixed(1), 8, true)} ${pad((r.simdGflops / r.scalarGflops).toFixed(2) + 'x', 7, true)}  ${r.description}`);
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark the kernels (--kernels): GFLOP/s of the SIMD and scalar builds, side by side')
    .option('--kernels', 'GEMM and conv kernels at LeNet-5 batch-128 shapes')
    .option('--filter <text>', 'only benchmarks whose name contains <text>')
    .option('--rounds <n>', 'interleaved timing rounds; the median is reported', '5')
    .option('--json', 'print one JSON line instead of a table')
    .action(async (opts: { kernels?: boolean; filter?: string; rounds: string; json?: boolean }) => {
      if (!opts.kernels) throw new UsageError('bench: choose what to benchmark: --kernels');
      const rounds = parseIntFlag('--rounds', opts.rounds, 1, 100);
      if (!opts.json) {
        console.log(`kernel benchmarks: median of ${rounds} interleaved rounds, GFLOP/s (higher is better)`);
        console.log(`${pad('name', 16)} ${pad('SIMD', 8, true)} ${pad('scalar', 8, true)} ${pad('ratio', 7, true)}  shape`);
      }
      const results = await benchKernels({ filter: opts.filter, rounds, onResult: opts.json ? undefined : printKernelRow });
      if (results.length === 0) throw new UsageError(`bench: no kernel benchmark matches '${opts.filter}'`);
      if (opts.json) {
        console.log(JSON.stringify({ kernels: results.map((r) => ({ name: r.name, simdGflops: +r.simdGflops.toFixed(2), scalarGflops: +r.scalarGflops.toFixed(2) })) }));
      }
    });
}
