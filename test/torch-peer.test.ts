/**
 * The PyTorch benchmark peer's process keeps the memory it frees, as the
 * wasm contenders keep their linear memory: on the 2-vCPU host (a microVM
 * that hands freed pages back to the host) PyTorch re-faulted every large
 * tensor on every call and inferred lenet5-bn at 3,400 img/s on one thread
 * instead of 26,000.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { torchEnv } from '../ts/bench/torch.js';

const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'pass']).status === 0);
const linux = existsSync('/proc/self/statm');

// Resident pages after allocating, touching and freeing 64 MiB, as a share of those 64 MiB.
const probe = `
import os
page = os.sysconf('SC_PAGE_SIZE')
rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page
b = bytearray(64 << 20)
for i in range(0, len(b), page): b[i] = 1
before = rss(); del b
print((rss() - before + (64 << 20)) / (64 << 20))
`;

describe('the PyTorch peer\'s environment', () => {
  it('sets the thread counts and keeps a user\'s own malloc settings', () => {
    const env = torchEnv(2, { PATH: '/bin', MALLOC_TRIM_THRESHOLD_: '5' });
    expect(env).toMatchObject({ PATH: '/bin', OMP_NUM_THREADS: '2', MKL_NUM_THREADS: '2', MALLOC_TRIM_THRESHOLD_: '5' });
  });

  it.skipIf(!python || !linux)('a freed large buffer stays resident (without it, the allocator returns it to the system)', () => {
    const kept = (env: NodeJS.ProcessEnv) => Number(spawnSync(python!, ['-c', probe], { encoding: 'utf8', env }).stdout);
    const base = { PATH: process.env.PATH };
    expect(kept(base)).toBeLessThan(0.2); // the reference: glibc unmaps a freed 64 MiB block
    expect(kept(torchEnv(1, base))).toBeGreaterThan(0.9);
  });
});
