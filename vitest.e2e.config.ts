import { defineConfig } from 'vitest/config';
import { relaxedSupported } from './ts/backend/load.js';

// Node 20 runs relaxed SIMD only with a flag: the test process gets it, so that Node's weights hash of the
// relaxed build can be compared with Chromium's (Node 22 and 24 have it on by default).
const relaxedFlag = relaxedSupported() ? [] : ['--experimental-wasm-relaxed-simd']; // asked of the engine (a relaxed_madd probe)

export default defineConfig({
  test: {
    include: ['web/e2e/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { execArgv: relaxedFlag } },
  },
});
