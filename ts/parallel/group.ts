/**
 * A group of Node worker threads around one SharedArrayBuffer: starting them
 * (each reports ready), running one command on all of them and waiting until
 * every one has counted itself done, hearing a worker's failure or death, and
 * ending them. The training and inference pools are built on it.
 */
import { C, CMD } from './protocol.js';

type NodeWorker = import('node:worker_threads').Worker;

/** A worker failed or died: the message names the worker and the cause. */
export class WorkerError extends Error {}

/** How long the calling thread blocks waiting for a step before it listens for worker failures too. */
const SYNC_WAIT_MS = 250;
const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** How many workers 'auto' means: the cores the runtime reports. */
export async function availableCores(): Promise<number> {
  if (typeof navigator === 'object' && typeof navigator?.hardwareConcurrency === 'number') return Math.max(1, navigator.hardwareConcurrency);
  const osName = 'node:os';
  const os = (await import(/* @vite-ignore */ osName)) as typeof import('node:os');
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** The compiled script of a worker kind; the TypeScript sources (tests) use the built one. */
async function scriptUrl(name: string): Promise<URL> {
  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs');
  let url = new URL(`./${name}.js`, import.meta.url);
  if (!existsSync(url)) url = new URL(`../../dist/parallel/${name}.js`, import.meta.url);
  if (!existsSync(url)) throw new Error(`the worker script ${url.pathname} is missing; run \`npm run build\``);
  return url;
}

export class WorkerGroup {
  private failure: WorkerError | null = null;
  private failed: Promise<never>;
  private rejectFailed!: (e: WorkerError) => void;
  private closed = false;

  private constructor(readonly workers: NodeWorker[], private readonly ctrl: Int32Array, private readonly what: string) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => { /* observed through wait() */ });
  }

  /** Starts one `script` worker per init (each gets its init as workerData) and waits until all are ready. */
  static async start(script: 'worker' | 'infer-worker', inits: object[], ctrl: Int32Array, what: string): Promise<WorkerGroup> {
    if (!isNode) throw new Error(`${what}: worker threads need Node here`);
    const wtName = 'node:worker_threads';
    const { Worker } = (await import(/* @vite-ignore */ wtName)) as typeof import('node:worker_threads');
    const url = await scriptUrl(script);
    const workers: NodeWorker[] = [];
    const group = new WorkerGroup(workers, ctrl, what);
    const ready = inits.map((init, i) => {
      const wk = new Worker(url, { workerData: init });
      workers.push(wk);
      return new Promise<void>((resolve, reject) => {
        wk.on('message', (m: { type: string; message?: string }) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') group.fail(i, `failed: ${m.message}`);
        });
        wk.on('error', (e) => { group.fail(i, `failed: ${e?.stack ?? e}`); reject(group.failure); });
        wk.on('exit', (code) => { group.fail(i, `exited (code ${code})`); reject(group.failure); });
      });
    });
    try {
      await Promise.all(ready);
    } catch (e) {
      await group.dispose();
      throw e;
    }
    return group;
  }

  private fail(i: number, why: string): void {
    if (this.failure || this.closed) return;
    this.failure = new WorkerError(`${this.what}: worker ${i} of ${this.workers.length} ${why}`);
    Atomics.store(this.ctrl, C.ABORT, 1);
    Atomics.notify(this.ctrl, C.BAR_GEN);
    this.rejectFailed(this.failure);
  }

  /** Throws the failure, if a worker failed, or if the group is closed. */
  check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`${this.what}: the worker pool is closed`);
  }

  /** Starts `cmd` on every worker (the caller has written its arguments). */
  run(cmd: number): void {
    this.check();
    Atomics.store(this.ctrl, C.DONE, 0);
    Atomics.store(this.ctrl, C.CMD, cmd);
    Atomics.add(this.ctrl, C.SEQ, 1);
    Atomics.notify(this.ctrl, C.SEQ);
  }

  /** Waits until every worker has counted itself done; throws the failure if one failed. */
  async wait(): Promise<void> {
    const ctrl = this.ctrl, total = this.workers.length;
    // Most steps end within milliseconds: sleep on the futex (a wake-up through
    // the event loop costs more), and only after SYNC_WAIT_MS go back to the
    // event loop, where a worker's exit or error is heard.
    const until = performance.now() + SYNC_WAIT_MS;
    for (let d = Atomics.load(ctrl, C.DONE); d < total && !this.failure && performance.now() < until; d = Atomics.load(ctrl, C.DONE)) {
      Atomics.wait(ctrl, C.DONE, d, 5);
    }
    for (;;) {
      const d = Atomics.load(ctrl, C.DONE);
      if (d >= total || this.failure) break;
      const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): { async: boolean; value: Promise<string> | string } })
        .waitAsync(ctrl, C.DONE, d, 1000);
      if (r.async) await Promise.race([r.value as Promise<string>, this.failed.catch(() => undefined)]);
    }
    if (this.failure) throw this.failure;
  }

  /** Ends every worker. Idempotent. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, C.CMD, CMD.EXIT);
    Atomics.store(this.ctrl, C.ABORT, 1);
    Atomics.add(this.ctrl, C.SEQ, 1);
    Atomics.notify(this.ctrl, C.SEQ);
    Atomics.notify(this.ctrl, C.BAR_GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Workers still running (0 after dispose or a failure's cleanup). */
  get liveWorkers(): number {
    return this.workers.filter((w) => w.threadId !== -1).length;
  }
}
