import { defineConfig } from 'vitest/config';
import { relaxedSupported } from './ts/backend/load.js';

// Node 20 runs relaxed SIMD only with a flag: the test processes get it, so that the relaxed build is
// tested there as on Node 22 and 24 (where it is on by default). The CLI tests' child processes run
// without it, as users run Node 20.
const relaxedFlag = relaxedSupported() ? [] : ['--experimental-wasm-relaxed-simd']; // asked of the engine (a relaxed_madd probe)

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { execArgv: relaxedFlag } },
  },
});
