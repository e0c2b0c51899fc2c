/**
 * A training worker (a Node worker thread or a Web Worker): its own wasm instance of the
 * pool's build and its own copy of the model; each step it takes the
 * parameters from shared memory, computes its leaves of the batch (meeting the
 * other workers at every batch-norm sum), writes its leaf gradients, and
 * combines its share of the gradient columns over all leaves.
 */
import type { BackendName } from '../backend/load.js';
import type { I32Buffer } from '../backend/memory.js';
import { pairwiseRows, pairwiseRowsPartial } from '../kernels/norm.js';
import type { Dataset } from '../model.js';
import * as protocol from './protocol.js';
import { barrier, C, ownedColumns, ownedLeaves, T, TIMES, views, type LayoutSizes } from './protocol.js';
import { coverLevels, LEAF_SIZE, leafCount, leafSizes, treeNodes, type StepShard, type TreeNode } from './shard.js';
import { bufferPool, buildWorkerModel, serve, workerInit, type ModelSpec } from './worker-common.js';

/** What the pool hands each worker. */
export interface WorkerInit {
  index: number;
  sab: SharedArrayBuffer;
  sizes: LayoutSizes;
  backend: BackendName;
  module: WebAssembly.Module;
  model: ModelSpec;
  data: { images: SharedArrayBuffer; labels: SharedArrayBuffer; count: number; float: boolean };
}

const init = await workerInit<WorkerInit>();
const w = init.index;
const v = views(init.sab, init.sizes);
const ctrl = v.ctrl;
const { be, model } = await buildWorkerModel(init.backend, init.module, init.model);
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

const buffer = bufferPool(be);

const time = v.timing.subarray(w * TIMES, (w + 1) * TIMES);

/**
 * The leaf tree's nodes each worker sums (see shard.ts) for L leaves on
 * `active` workers, and the cover levels of all of them, kept per shape.
 */
const trees = new Map<string, { mine: TreeNode[]; all: TreeNode[]; cover: I32Buffer }>();
function leafTree(L: number, active: number): { mine: TreeNode[]; all: TreeNode[]; cover: I32Buffer } {
  const key = `${L}/${active}`;
  let t = trees.get(key);
  if (!t) {
    const per = Array.from({ length: active }, (_, k) => treeNodes(L, ...ownedLeaves(L, k, active)));
    const all = per.flat(), cover = be.heap.allocI32(L);
    cover.set(coverLevels(L, all));
    t = { mine: per[w], all, cover };
    trees.set(key, t);
  }
  return t;
}

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
  // This worker's leaves' gradients summed into the largest tree nodes they
  // cover; each node's value goes to its first leaf's row (row = global leaf).
  const tree = leafTree(L, active);
  let nodeMs = 0;
  for (const p of leafParams) {
    const size = p.value.length, col = leafAt.get(p)!, lg = p.leafGrads!;
    for (const nd of tree.mine) {
      const j = nd.start - l0;
      let row = lg.view.subarray(j * size, (j + 1) * size);
      if (nd.level > 0) {
        const ts = performance.now(), sum = buffer('node', size);
        pairwiseRows(be, lg.sub(j * size, 2 ** nd.level * size), 2 ** nd.level, size, sum);
        row = sum.view;
        nodeMs += performance.now() - ts;
      }
      v.leaves.set(row, nd.start * Pl + col);
    }
  }
  barrier(ctrl, active);
  const t3 = performance.now();
  // Its share of the columns: the tree finished from every worker's nodes.
  const [c0, c1] = ownedColumns(Pl, w, active), width = c1 - c0;
  let tr = t3;
  if (width > 0) {
    const rows = buffer('leafRows', L * width), rv = rows.view;
    for (const nd of tree.all) rv.set(v.leaves.subarray(nd.start * Pl + c0, nd.start * Pl + c1), nd.start * width);
    const dst = buffer('columns', width);
    tr = performance.now();
    pairwiseRowsPartial(be, rows, L, width, tree.cover, dst);
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
  time[T.LEAF_COPY] += t3 - t2 - (wait2 - wait1) - nodeMs + (tr - t3);
  time[T.REDUCE] += t4 - tr + nodeMs;
}

serve(ctrl, step);
model.dispose();
