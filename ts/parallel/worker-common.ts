/**
 * What every pool worker does the same way: build its own wasm instance and
 * model copy from the pool's description, and run commands as the pool's
 * sequence counter moves.
 */
import { instantiateBackend, type Backend, type BackendName } from '../backend/load.js';
import { layerFromConfig } from '../layers/index.js';
import { Net } from '../engine/net.js';
import { isNode } from '../env.js';
import { C, CMD, PoolAborted, type ModelSpec } from './layout.js';
import { spinWhile } from './sync.js';

export type { ModelSpec } from './layout.js';

type Port = { postMessage(m: unknown): void };
let port: Port | null = null;

/**
 * The pool's description of this worker: Node's workerData, or in a browser
 * the first message the pool posts. Call once, before anything else.
 */
export async function workerInit<T>(): Promise<T> {
  if (isNode) {
    const name = 'node:worker_threads';
    const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as typeof import('node:worker_threads');
    port = wt.parentPort!;
    return wt.workerData as T;
  }
  const scope = globalThis as unknown as Port & { addEventListener(t: 'message', f: (e: MessageEvent) => void, o?: { once: boolean }): void };
  port = scope;
  return new Promise<T>((resolve) => scope.addEventListener('message', (e) => resolve(e.data as T), { once: true }));
}

function post(m: unknown): void {
  port!.postMessage(m);
}

/** A worker's own backend and model. */
export async function buildWorkerModel(backend: BackendName, module: WebAssembly.Module, spec: ModelSpec): Promise<{ be: Backend; model: Net }> {
  const be = await instantiateBackend(backend, module);
  const model = new Net(spec.layers.map(layerFromConfig), { inputShape: spec.inputShape, classes: spec.classes, normalization: spec.normalization, backend: be });
  return { be, model };
}

/**
 * Tells the pool this worker is ready, then runs `step` each time ctrl's
 * sequence moves, until the EXIT command. A failure is reported to the pool and
 * aborts the other workers; every step ends by counting itself done.
 */
export function serve(ctrl: Int32Array, step: () => void): void {
  let seen = Atomics.load(ctrl, C.SEQ);
  post({ type: 'ready' });
  for (;;) {
    // The next step usually comes within a millisecond: spin, then sleep.
    if (!spinWhile(() => Atomics.load(ctrl, C.SEQ) === seen, 1)) {
      while (Atomics.load(ctrl, C.SEQ) === seen) Atomics.wait(ctrl, C.SEQ, seen);
    }
    seen = Atomics.load(ctrl, C.SEQ);
    if (Atomics.load(ctrl, C.CMD) === CMD.EXIT) break;
    try {
      step();
    } catch (e) {
      if (!(e instanceof PoolAborted)) {
        post({ type: 'error', message: (e as Error)?.stack ?? String(e) });
        Atomics.store(ctrl, C.ABORT, 1);
        Atomics.notify(ctrl, C.BAR_GEN);
      }
    } finally {
      // Only the last thread wakes the caller: a wake-up per thread would take
      // a core from a thread still computing.
      if (Atomics.add(ctrl, C.DONE, 1) + 1 >= Atomics.load(ctrl, C.THREADS)) Atomics.notify(ctrl, C.DONE);
    }
  }
}
