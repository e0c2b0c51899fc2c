/**
 * A group of workers (Node worker threads, or a browser's Web Workers) around
 * one SharedArrayBuffer: starting them
 * (each reports ready), running one command on all of them and waiting until
 * every one has counted itself done, hearing a worker's failure or death, and
 * ending them. The training and inference pools are built on it.
 */
import { C, CMD, PoolStalled } from './layout.js';
import { spinWhile, waiter } from './sync.js';
import { isNode } from '../env.js';

/** The worker kinds: training (worker.ts) and inference (infer-worker.ts). */
export type WorkerKind = 'worker' | 'infer-worker';

/**
 * Makes a browser Web Worker running the library's worker script of `kind`
 * (needed in browsers, where only the app's bundler knows the script's URL),
 * e.g. `(kind) => new Worker(new URL('cnn-wasm/dist/parallel/' + kind + '.js', import.meta.url), { type: 'module' })`
 * or, with Vite, one `new Worker(new URL('...', import.meta.url), { type: 'module' })` per kind.
 */
export type CreateWorker = (kind: WorkerKind) => Worker;

/** What the group needs of one worker, Node's or a browser's. */
interface Handle {
  onMessage(f: (m: { type: string; message?: string }) => void): void;
  onFailure(f: (why: string) => void): void;
  terminate(): Promise<void>;
  readonly alive: boolean;
}

/** A worker failed or died: the message names the worker and the cause. */
export class WorkerError extends Error {}

/** Most workers a pool starts (training or inference), and the CLI's --workers accepts. */
export const MAX_WORKERS = 256;

/** Checks a `workers` option: an integer from 1 to MAX_WORKERS. */
export function checkWorkers(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_WORKERS) {
    throw new Error(`${what}: workers must be an integer from 1 to ${MAX_WORKERS}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

/**
 * What a Node worker thread running the module at `url` is started from: the
 * file itself, or, when this process runs a script given as
 * `node --input-type=module -e '...'`, a one-line script importing it. Threads
 * inherit the parent's Node options, and Node refuses --input-type for a
 * thread's entry file (ERR_INPUT_TYPE_NOT_ALLOWED) but not for a script string.
 */
export function threadEntry(url: URL): { entry: URL | string; eval: boolean } {
  const argv = (globalThis as { process?: { execArgv?: string[] } }).process?.execArgv ?? [];
  return argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))
    ? { entry: `import(${JSON.stringify(url.href)})`, eval: true }
    : { entry: url, eval: false };
}

/** How long an aborted step waits for the failed worker's message. */
const FAILURE_WAIT_MS = 5000;
/** How long the calling thread blocks waiting for a step before it listens for worker failures too. */
const SYNC_WAIT_MS = 250;
/** Whether Atomics.wait may block this thread (not a browser's main thread). */
export const canBlock = isNode || (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined');

/** How many workers 'auto' means: the cores the runtime reports. */
export async function availableCores(): Promise<number> {
  if (typeof navigator === 'object' && typeof navigator?.hardwareConcurrency === 'number') return Math.max(1, navigator.hardwareConcurrency);
  const osName = 'node:os';
  const os = (await import(/* @vite-ignore */ /* webpackIgnore: true */ osName)) as typeof import('node:os');
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** The compiled script of a worker kind; the TypeScript sources (tests) use the built one. */
async function scriptUrl(name: string): Promise<URL> {
  const fsName = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ fsName)) as typeof import('node:fs');
  let url = new URL(/* webpackIgnore: true */ `./${name}.js`, import.meta.url);
  if (!existsSync(url)) url = new URL(/* webpackIgnore: true */ `../../dist/parallel/${name}.js`, import.meta.url);
  if (!existsSync(url)) throw new Error(`the worker script ${url.pathname} is missing; run \`npm run build\``);
  return url;
}

async function nodeHandle(url: URL, init: object): Promise<Handle> {
  const wtName = 'node:worker_threads';
  const { Worker } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ wtName)) as typeof import('node:worker_threads');
  const t = threadEntry(url);
  const wk = new Worker(t.entry, { workerData: init, eval: t.eval });
  let alive = true;
  return {
    onMessage: (f) => wk.on('message', f),
    onFailure: (f) => {
      wk.on('error', (e) => f(`failed: ${e?.stack ?? e}`));
      wk.on('exit', (code) => { alive = false; f(`exited (code ${code})`); });
    },
    terminate: async () => { await wk.terminate(); alive = false; },
    get alive() { return alive && wk.threadId !== -1; },
  };
}

function webHandle(wk: Worker, init: object): Handle {
  let alive = true;
  wk.postMessage(init);
  return {
    onMessage: (f) => wk.addEventListener('message', (e) => f(e.data)),
    onFailure: (f) => {
      wk.addEventListener('error', (e) => f(`failed: ${e.message || 'error in the worker script'}`));
      wk.addEventListener('messageerror', () => f('failed: a message could not be read'));
    },
    terminate: async () => { wk.terminate(); alive = false; },
    get alive() { return alive; },
  };
}

export class WorkerGroup {
  private failure: WorkerError | null = null;
  private failed: Promise<never>;
  private rejectFailed!: (e: WorkerError) => void;
  private closed = false;

  private constructor(
    private readonly handles: Handle[], private readonly ctrl: Int32Array, private readonly what: string,
    /** Index of the first worker thread among the pool's workers (1 when the calling thread is worker 0). */
    private readonly first: number,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => { /* observed through wait() */ });
  }

  /**
   * Starts one `kind` worker per init (each gets its init as Node's workerData
   * or as the first message) and waits until all are ready. In a browser,
   * `createWorker` makes them, and the page must be cross-origin isolated.
   * Messages name the threads as workers `first`, `first + 1`, ... of
   * `first + inits.length` (the calling thread may be worker 0).
   */
  static async start(kind: WorkerKind, inits: object[], ctrl: Int32Array, what: string, createWorker?: CreateWorker, first = 0): Promise<WorkerGroup> {
    if (!isNode) {
      if (!createWorker) throw new Error(`${what}: workers in a browser need the createWorker option (the app's bundler knows the worker script's URL)`);
      if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) {
        throw new Error(`${what}: workers need SharedArrayBuffer, which a browser gives only to cross-origin isolated pages (serve them with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)`);
      }
    }
    const url = isNode && !createWorker ? await scriptUrl(kind) : null;
    Atomics.store(ctrl, C.THREADS, inits.length);
    const handles: Handle[] = [];
    for (const init of inits) handles.push(url ? await nodeHandle(url, init) : webHandle(createWorker!(kind), init));
    const group = new WorkerGroup(handles, ctrl, what, first);
    const ready = handles.map((h, i) => new Promise<void>((resolve, reject) => {
      h.onMessage((m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') group.fail(i, `failed: ${m.message}`);
      });
      h.onFailure((why) => { group.fail(i, why); reject(group.failure); });
    }));
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
    this.failure = new WorkerError(`${this.what}: worker ${i + this.first} of ${this.handles.length + this.first} ${why}`);
    this.abort();
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

  /**
   * Waits until every worker thread has counted itself done; throws the
   * failure if one failed (a worker that failed has aborted the pool, and its
   * message comes through the event loop). `spin`: this thread has computed
   * its share and the others are about to finish theirs, so it spins first
   * (see waitChange) rather than sleep and be woken. Throws PoolStalled when
   * they are not done within `stallMs` (a thread that hangs sends no message).
   */
  async wait(spin = false, stallMs = Infinity): Promise<void> {
    const ctrl = this.ctrl, total = this.handles.length;
    const t0 = performance.now();
    const stalled = () => {
      if (performance.now() - t0 > stallMs) throw new PoolStalled(`no other worker finished its step within ${stallMs} ms`);
    };
    if (spin && canBlock) spinWhile(() => Atomics.load(ctrl, C.DONE) < total && !this.failure, waiter.spinMs);
    // Most steps end within milliseconds: sleep on the futex until the last
    // thread is done (a wake-up through the event loop costs more), and only
    // after SYNC_WAIT_MS go back to the event loop, where a worker's exit or
    // error is heard.
    const until = canBlock ? performance.now() + SYNC_WAIT_MS : 0;
    for (let d = Atomics.load(ctrl, C.DONE), left = until - performance.now(); d < total && !this.failure && left > 0; d = Atomics.load(ctrl, C.DONE), left = until - performance.now()) {
      Atomics.wait(ctrl, C.DONE, d, left);
    }
    for (;;) {
      const d = Atomics.load(ctrl, C.DONE);
      if (d >= total || this.failure) break;
      stalled();
      const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): { async: boolean; value: Promise<string> | string } })
        .waitAsync(ctrl, C.DONE, d, Math.min(1000, stallMs));
      if (r.async) await Promise.race([r.value as Promise<string>, this.failed.catch(() => undefined)]);
    }
    if (spin) waiter.waited(performance.now() - t0);
    if (this.failure) throw this.failure;
    if (Atomics.load(ctrl, C.ABORT) !== 0) throw await this.failureAfterAbort('the workers stopped (the pool was aborted)');
  }

  /**
   * After the pool was aborted: the failed worker's error once its message
   * has come through the event loop (within FAILURE_WAIT_MS), else an error
   * saying `why` the step stopped.
   */
  async failureAfterAbort(why: string): Promise<WorkerError> {
    if (!this.failure && !this.closed) await Promise.race([this.failed.catch(() => undefined), new Promise((r) => setTimeout(r, FAILURE_WAIT_MS))]);
    return this.failure ?? new WorkerError(`${this.what}: ${why}`);
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
    await Promise.all(this.handles.map((h) => h.terminate()));
  }

  /** How many worker threads the group has. */
  get size(): number {
    return this.handles.length;
  }

  /** Aborts the pool: every worker's next barrier throws, and it counts itself done. */
  abort(): void {
    Atomics.store(this.ctrl, C.ABORT, 1);
    Atomics.notify(this.ctrl, C.BAR_GEN);
  }

  /** @internal Ends worker thread i (counted from `first`) as if it had crashed (tests). */
  kill(i: number): Promise<void> {
    return this.handles[i - this.first].terminate();
  }

  /** Workers still running (0 after dispose or a failure's cleanup). */
  get liveWorkers(): number {
    return this.handles.filter((h) => h.alive).length;
  }
}
