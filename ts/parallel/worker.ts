/**
 * A training worker (Node worker_threads): its own wasm instance of the
 * pool's build and its own copy of the model; each step it takes the
 * parameters from shared memory, computes its leaves of the batch (meeting the
 * other workers at every batch-norm sum), writes its leaf gradients, and
 * combines its share of the gradient columns over all leaves.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateBackend, type BackendName } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { pairwiseRows } from '../kernels/norm.js';
import { layerFromConfig } from '../layers/index.js';
import { Sequential, type Dataset, type Normalization } from '../model.js';
import * as protocol from './protocol.js';
import { barrier, C, CMD, ownedColumns, ownedLeaves, PoolAborted, T, TIMES, views, type LayoutSizes } from './protocol.js';
import { LEAF_SIZE, leafCount, leafSizes, type StepShard } from './shard.js';

/** What the pool hands each worker. */
export interface WorkerInit {
  index: number;
  sab: SharedArrayBuffer;
  sizes: LayoutSizes;
  backend: BackendName;
  module: WebAssembly.Module;
  model: { layers: Record<string, unknown>[]; inputShape: number[]; classes: number; normalization: Normalization };
  data: { images: SharedArrayBuffer; labels: SharedArrayBuffer; count: number; float: boolean };
}

const init = workerData as WorkerInit;
const w = init.index;
const v = views(init.sab, init.sizes);
const ctrl = v.ctrl;

const be = await instantiateBackend(init.backend, init.module);
const model = new Sequential(init.model.layers.map(layerFromConfig), {
  inputShape: init.model.inputShape, classes: init.model.classes, normalization: init.model.normalization, backend: be,
});
const params = model.params();
const leafParams = model.leafParams();
const leafSet = new Set(leafParams);
const otherTrainable = params.filter((p) => p.grad && !leafSet.has(p));
const stats = params.filter((p) => !p.grad);
const paramAt = new Map(params.map((p, i) => [p, params.slice(0, i).reduce((s, q) => s + q.value.length, 0)]));
const leafAt = new Map(leafParams.map((p, i) => [p, leafParams.slice(0, i).reduce((s, q) => s + q.value.length, 0)]));
const Pl = init.sizes.leafValues;
const data: Dataset = {
  images: init.data.float ? new Float32Array(init.data.images) : new Uint8Array(init.data.images),
  labels: new Int32Array(init.data.labels),
  count: init.data.count,
};

const bufs = new Map<string, F32Buffer>();
/** A buffer of this worker's wasm memory, by name, grown on demand. */
const buffer = (key: string, len: number): F32Buffer => {
  let b = bufs.get(key);
  if (!b || b.length < len) {
    b?.free();
    b = be.heap.alloc(Math.max(len, 1));
    bufs.set(key, b);
  }
  return b.sub(0, len);
};

const time = v.timing.subarray(w * TIMES, (w + 1) * TIMES);

function step(): void {
  const n = Atomics.load(ctrl, C.N), active = Atomics.load(ctrl, C.ACTIVE);
  if (w >= active) return;
  time[T.STEPS]++;
  const t0 = performance.now(), wait0 = protocol.barrierWaitMs;
  const seed = (Atomics.load(ctrl, C.SEED_LO) >>> 0) + (Atomics.load(ctrl, C.SEED_HI) >>> 0) * 2 ** 32;
  const L = leafCount(n);
  const [l0, l1] = ownedLeaves(L, w, active);
  const img0 = l0 * LEAF_SIZE, nLocal = Math.min(l1 * LEAF_SIZE, n) - img0;
  for (const p of params) p.value.view.set(v.params.subarray(paramAt.get(p)!, paramAt.get(p)! + p.value.length));
  let tick = 0;
  const shard: StepShard = {
    offset: img0, batchSize: n, leaves: leafSizes(n, l0, l1 - l0),
    reduceRows: (local, rows, cols, dst) => {
      const table = v.tables[tick++ & 1];
      table.set(local.view.subarray(0, rows * cols), img0 * cols);
      barrier(ctrl, active);
      const all = buffer('table', n * cols);
      all.view.set(table.subarray(0, n * cols));
      pairwiseRows(be, all, n, cols, dst);
    },
  };
  const x = model.stageBatch(data, v.idx, img0, nLocal);
  const t1 = performance.now();
  const r = model.shardStep(x, nLocal, shard, seed);
  const t2 = performance.now(), wait1 = protocol.barrierWaitMs;
  v.losses.set(r.losses, img0);
  v.correct[w] = r.correct;
  // This worker's leaves' gradients, row = global leaf.
  for (const p of leafParams) {
    const size = p.value.length, col = leafAt.get(p)!, lg = p.leafGrads!.view;
    for (let j = 0; j < l1 - l0; j++) v.leaves.set(lg.subarray(j * size, (j + 1) * size), (l0 + j) * Pl + col);
  }
  barrier(ctrl, active);
  const t3 = performance.now();
  // Its share of the columns, over every leaf of the batch.
  const [c0, c1] = ownedColumns(Pl, w, active), width = c1 - c0;
  let tr = t3;
  if (width > 0) {
    const rows = buffer('leafRows', L * width), rv = rows.view;
    for (let j = 0; j < L; j++) rv.set(v.leaves.subarray(j * Pl + c0, j * Pl + c1), j * width);
    const dst = buffer('columns', width);
    tr = performance.now();
    pairwiseRows(be, rows, L, width, dst);
    v.grads.set(dst.view, c0);
  }
  if (w === 0) {
    // Batch norm's gradients and running statistics: the same in every worker.
    let at = Pl;
    for (const p of otherTrainable) {
      v.grads.set(p.grad!.view, at);
      at += p.value.length;
    }
    for (const p of stats) v.params.set(p.value.view, paramAt.get(p)!);
  }
  const t4 = performance.now(), wait2 = protocol.barrierWaitMs;
  time[T.COPY_IN] += t1 - t0;
  time[T.COMPUTE] += t2 - t1 - (wait1 - wait0);
  time[T.WAIT] += wait2 - wait0;
  time[T.LEAF_COPY] += t3 - t2 - (wait2 - wait1) + (tr - t3);
  time[T.REDUCE] += t4 - tr;
}

let seen = Atomics.load(ctrl, C.SEQ);
parentPort!.postMessage({ type: 'ready' });
for (;;) {
  // The next step usually comes within a millisecond: spin, then sleep (no abort check: dispose wakes us with EXIT).
  const until = performance.now() + 1;
  for (let k = 0; Atomics.load(ctrl, C.SEQ) === seen; k++) {
    if ((k & 1023) === 1023 && performance.now() > until) {
      Atomics.wait(ctrl, C.SEQ, seen);
    }
  }
  seen = Atomics.load(ctrl, C.SEQ);
  if (Atomics.load(ctrl, C.CMD) === CMD.EXIT) break;
  try {
    step();
  } catch (e) {
    if (!(e instanceof PoolAborted)) {
      parentPort!.postMessage({ type: 'error', message: (e as Error)?.stack ?? String(e) });
      Atomics.store(ctrl, C.ABORT, 1);
      Atomics.notify(ctrl, C.BAR_GEN);
    }
  } finally {
    Atomics.add(ctrl, C.DONE, 1);
    Atomics.notify(ctrl, C.DONE);
  }
}
model.dispose();
