/**
 * PyTorch as a benchmark peer, when the machine has it (`python3 -c 'import
 * torch'`; Debian: apt-get install python3-torch): scripts/torch-peer.py runs
 * the same network on the same batch in a child process and times the steps
 * it is asked for, so it takes part in the same interleaved rounds.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerRunner } from './peers.js';

/** The first python3 that imports torch, and its version, or why there is none. */
export function findTorch(): { python: string; version: string } | { missing: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { missing: "not installed: no python3 here imports torch (Debian: apt-get install -y python3-torch)" };
}

/**
 * How long PyTorch's intra-op (OpenMP) threads spin after a call: measured on
 * the 2-core machine, two threads' multiply-add right after a 2-thread
 * PyTorch call took 20.4 ms instead of 12.2 (after a 2 ms pause 18.9, 5 ms
 * 13.5, 10 ms 12.3, 20 ms 12.2), so a contender timed right after PyTorch's
 * slice lost a share of both cores to it.
 */
export const TORCH_SETTLE_MS = 20;

/**
 * The peer's environment: `threads` intra-op threads, and glibc's malloc
 * set to keep what it frees (no mmap'd blocks, no trimming), as the wasm
 * contenders keep their linear memory. PyTorch allocates every activation
 * afresh; glibc gives a large block back to the system when it is freed,
 * and on the 2-vCPU host (a microVM that returns freed pages to the host)
 * each call then faulted its tensors in again: lenet5-bn inference on one
 * thread ran at 3,400 img/s that way and at 26,000 with these settings. A
 * user's own MALLOC_* settings are kept.
 */
export function torchEnv(threads: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(2 ** 40), ...base, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
}

/** A PyTorch runner of `layers` on `images`/`labels` with `threads` intra-op threads. */
export async function torchRunner(
  python: string, model: { layers: Record<string, unknown>[]; inputShape: number[]; classes: number },
  batch: { images: Uint8Array; labels: Uint8Array }, threads: number,
): Promise<PeerRunner> {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-wasm-torch-'));
  writeFileSync(join(dir, 'model.json'), JSON.stringify(model));
  const raw = new Uint8Array(batch.images.length + batch.labels.length);
  raw.set(batch.images);
  raw.set(batch.labels, batch.images.length);
  writeFileSync(join(dir, 'batch.bin'), raw);
  const script = fileURLToPath(new URL('../../scripts/torch-peer.py', import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(python, [script, join(dir, 'model.json'), join(dir, 'batch.bin'), String(threads)], {
    env: torchEnv(threads),
  });
  let buf = '', err = '';
  const waiting: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`PyTorch peer exited (code ${code}): ${err.trim().split('\n').pop() ?? ''}`))));
  exited.catch(() => { /* reported by the next request */ });
  const next = () => Promise.race([new Promise<string>((r) => waiting.push(r)), exited]);
  const ready = await next();
  if (ready !== 'ready') throw new Error(`PyTorch peer: unexpected ${JSON.stringify(ready)}`);
  const ask = async (cmd: string) => {
    child.stdin.write(`${cmd} 1\n`);
    await next();
  };
  return {
    train: () => ask('train'),
    infer: () => ask('infer'),
    settleMs: TORCH_SETTLE_MS,
    dispose: () => {
      child.stdin.end('quit\n');
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
