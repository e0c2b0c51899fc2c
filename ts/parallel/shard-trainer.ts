/**
 * One participant of a training pool's step: a worker thread, or the calling
 * thread itself where it may block (Node, or a Web Worker), with its own wasm
 * instance and model. Each step it takes the parameters from shared memory
 * (the calling thread's model holds them already), computes its leaves of the
 * batch (meeting the others at every batch-norm sum), hands on each layer's
 * leaf gradients as soon as its backward is done, and combines blocks of
 * gradient columns over all leaves: whichever participant comes first takes
 * the next block whose leaves every participant has handed on, also while it
 * waits at a batch-norm barrier for the others. Who combines which columns
 * does not change the bits.
 */
import type { Backend } from '../backend/load.js';
import { BufferPool, type F32Buffer, type I32Buffer } from '../backend/memory.js';
import { pairwiseRows, pairwiseRowsPartial } from '../kernels/norm.js';
import type { Param } from '../layers/layer.js';
import type { Net } from '../engine/net.js';
import type { Dataset } from '../engine/types.js';
import type { Augment } from '../data/augment.js';
import { pack, unpack } from './pack.js';
import { C, T, TIMES, type SharedViews } from './layout.js';
import { faultFor, slowDown, type Fault } from './faults.js';
import { waiter } from './sync.js';
import { coverLevels, leafCount, leafImages, leafSizes, treeNodes, type StepShard, type TreeNode } from '../layers/step.js';

/** Gradient columns a participant combines at a time: small enough that the first to finish can take over part of the others' share. */
const REDUCE_BLOCK = 4096;
/** Splits of the leaves whose trees a participant keeps (a balanced pool uses a few; batch sizes add more). */
const MAX_TREES = 64;

export class ShardTrainer {
  private readonly ctrl: Int32Array;
  private readonly params: Param[];
  private readonly leafParams: Param[];
  private readonly otherTrainable: Param[];
  private readonly stats: Param[];
  private readonly paramAt: Map<Param, number>;
  private readonly leafAt: Map<Param, number>;
  /** Named scratch buffers of this participant's wasm memory, grown on demand. */
  private readonly bufs: BufferPool;
  private readonly time: Float64Array;
  /**
   * The gradient columns in blocks, in the order backward completes them (the
   * last layer's first): [first column, end, index of the leaf parameter].
   */
  private readonly blocks: [number, number, number][] = [];
  /** This step's timing of the leaf hand-over and the column blocks (see step). */
  private handMs = 0;
  private reduceMs = 0;
  private blockCopyMs = 0;
  /** The leaf tree's nodes each participant sums (see shard.ts) and the cover levels of all, per split of the leaves (see balance.ts). */
  private readonly trees = new Map<string, { mine: TreeNode[]; all: TreeNode[]; cover: I32Buffer }>();

  /**
   * Participant `w` of the pool whose shared memory is `v`. `caller`: this is
   * the calling thread, whose model is the pool's model (it holds the
   * parameters, and its batch-norm gradients and statistics need no copy);
   * its barrier waits give up after `stallMs` (a worker that died cannot say
   * so while this thread blocks).
   */
  constructor(
    private readonly w: number, private readonly v: SharedViews, private readonly be: Backend, private readonly model: Net,
    private readonly data: Dataset, private readonly caller = false, public stallMs = Infinity, private readonly augment: Augment | null = null,
  ) {
    this.bufs = new BufferPool(() => be.heap);
    this.ctrl = v.ctrl;
    this.params = model.params();
    this.leafParams = model.leafParams();
    const leafSet = new Set(this.leafParams);
    this.otherTrainable = this.params.filter((p) => p.grad && !leafSet.has(p));
    this.stats = this.params.filter((p) => !p.grad);
    this.paramAt = offsets(this.params);
    this.leafAt = offsets(this.leafParams);
    this.time = v.timing.subarray(w * TIMES, (w + 1) * TIMES);
    for (let pi = this.leafParams.length - 1; pi >= 0; pi--) {
      const c0 = this.leafAt.get(this.leafParams[pi])!, c1 = c0 + this.leafParams[pi].value.length;
      for (let c = c0; c < c1; c += REDUCE_BLOCK) this.blocks.push([c, Math.min(c + REDUCE_BLOCK, c1), pi]);
    }
  }

  /** A view of exactly `len` values of the scratch buffer `key`. */
  private buffer(key: string, len: number): F32Buffer {
    return this.bufs.f32(key, len).sub(0, len);
  }

  /** Frees the scratch buffers (the calling thread's: a worker's memory ends with it). */
  dispose(): void {
    this.bufs.free();
    this.forgetTrees();
  }

  private forgetTrees(): void {
    for (const t of this.trees.values()) t.cover.free();
    this.trees.clear();
  }

  private leafTree(split: Int32Array): { mine: TreeNode[]; all: TreeNode[]; cover: I32Buffer } {
    const key = split.join(), L = split[split.length - 1];
    let t = this.trees.get(key);
    if (!t) {
      if (this.trees.size >= MAX_TREES) this.forgetTrees();
      const per = Array.from({ length: split.length - 1 }, (_, k) => treeNodes(L, split[k], split[k + 1]));
      const all = per.flat(), cover = this.be.heap.allocI32(L);
      cover.set(coverLevels(L, all));
      t = { mine: per[this.w], all, cover };
      this.trees.set(key, t);
    }
    return t;
  }

  /** This participant's part of the step the shared memory describes; throws PoolAborted when the pool was aborted. */
  step(): void {
    const { v, ctrl, w, be, time } = this, buffer = (key: string, len: number) => this.buffer(key, len);
    const n = Atomics.load(ctrl, C.N), active = Atomics.load(ctrl, C.ACTIVE);
    if (w >= active) return;
    time[T.STEPS]++;
    const t0 = performance.now(), wait0 = waiter.barrierWaitMs;
    const seed = (Atomics.load(ctrl, C.SEED_LO) >>> 0) + (Atomics.load(ctrl, C.SEED_HI) >>> 0) * 2 ** 32;
    const L = leafCount(n), Pl = v.sizes.leafValues, split = v.split.slice(0, active + 1);
    const l0 = split[w], l1 = split[w + 1], [img0, imgEnd] = leafImages(n, l0, l1), nLocal = imgEnd - img0;
    if (!this.caller) unpack(v.params, this.params.map((p) => p.value));
    let tick = 0;
    const seq = Atomics.load(ctrl, C.SEQ), tree = this.leafTree(split), handed = new Set<Param>();
    this.handMs = this.reduceMs = this.blockCopyMs = 0;
    // Allocated now: nothing may grow the memory inside backward or a barrier, under other code's views.
    buffer('node', Math.max(...this.leafParams.map((p) => p.value.length)));
    buffer('leafRows', L * REDUCE_BLOCK);
    buffer('columns', REDUCE_BLOCK);
    // This participant's leaves' gradients of `p`, summed into the largest tree
    // nodes they cover; each node's value goes to its first leaf's row (row = global leaf).
    const handOn = (p: Param) => {
      const ts = performance.now(), size = p.value.length, col = this.leafAt.get(p)!, lg = p.leafGrads!;
      let sumMs = 0; // of that, the node sums (counted as reduction)
      for (const nd of tree.mine) {
        const j = nd.start - l0;
        let row = lg.view.subarray(j * size, (j + 1) * size);
        if (nd.level > 0) {
          const tr = performance.now(), sum = buffer('node', size);
          pairwiseRows(be, lg.sub(j * size, 2 ** nd.level * size), 2 ** nd.level, size, sum);
          row = sum.view;
          sumMs += performance.now() - tr;
        }
        v.leaves.set(row, nd.start * Pl + col);
      }
      handed.add(p);
      const i = w * this.leafParams.length + this.leafParams.indexOf(p);
      Atomics.store(v.ready, i, seq);
      Atomics.notify(v.ready, i);
      this.handMs += performance.now() - ts - sumMs;
      this.reduceMs += sumMs;
    };
    const ready = (pi: number) => {
      for (let k = 0; k < active; k++) if (Atomics.load(v.ready, k * this.leafParams.length + pi) !== seq) return false;
      return true;
    };
    // While waiting at a barrier: the next block, if every participant has handed its leaves on.
    const reduceReady = () => {
      const b = Atomics.load(ctrl, C.NEXT_BLOCK);
      if (b >= this.blocks.length || !ready(this.blocks[b][2]) || Atomics.compareExchange(ctrl, C.NEXT_BLOCK, b, b + 1) !== b) return false;
      this.reduceBlock(b, L, tree);
      return true;
    };
    const shard: StepShard = {
      offset: img0, batchSize: n, leaves: leafSizes(n, l0, l1 - l0),
      reduceRows: (local, rows, cols, dst) => {
        const table = v.tables[tick++ & 1];
        table.set(local.view.subarray(0, rows * cols), img0 * cols);
        waiter.barrier(ctrl, active, this.stallMs, reduceReady);
        const all = buffer('table', n * cols);
        all.view.set(table.subarray(0, n * cols));
        pairwiseRows(be, all, n, cols, dst);
      },
      layerDone: (layer) => { for (const p of layer.leafParams()) handOn(p); },
    };
    const x = this.model.stageBatch(this.data, v.idx, img0, nLocal, this.augment ? { spec: this.augment, stepSeed: seed, first: img0 } : undefined);
    const t1 = performance.now();
    const r = this.model.shardStep(x, nLocal, shard, seed);
    for (const p of this.leafParams) if (!handed.has(p)) handOn(p);
    // Tests: a fault after the hand-over; 'slow' counts as this worker's compute, as a slower core's would, and 'heavy' is counted without being slept.
    const fault = this.caller ? null : faultFor(ctrl, w);
    if (fault === 'late') while (Atomics.load(ctrl, C.NEXT_BLOCK) < this.blocks.length) Atomics.wait(ctrl, C.NEXT_BLOCK, Atomics.load(ctrl, C.NEXT_BLOCK), 1);
    else if (fault === 'heavy') time[T.COMPUTE] += 1000 * (l1 - l0);
    else if (fault) injectedFault(fault, l1 - l0);
    const t2 = performance.now(), wait1 = waiter.barrierWaitMs, inStep = this.handMs + this.reduceMs + this.blockCopyMs;
    v.losses.set(r.losses, img0);
    v.correct[w] = r.correct;
    // The blocks left: each once every participant has handed its leaves on.
    for (let b = Atomics.add(ctrl, C.NEXT_BLOCK, 1); b < this.blocks.length; b = Atomics.add(ctrl, C.NEXT_BLOCK, 1)) {
      const pi = this.blocks[b][2];
      for (let k = 0; k < active; k++) waiter.waitUntil(ctrl, v.ready, k * this.leafParams.length + pi, seq, this.stallMs);
      this.reduceBlock(b, L, tree);
    }
    if (w === 0 && !this.caller) {
      // Batch norm's gradients and running statistics: the same in every participant.
      pack(v.grads, this.otherTrainable.map((p) => p.grad!), Pl);
      for (const p of this.stats) v.params.set(p.value.view, this.paramAt.get(p)!);
    }
    const t4 = performance.now(), wait2 = waiter.barrierWaitMs;
    time[T.COPY_IN] += t1 - t0;
    time[T.COMPUTE] += t2 - t1 - (wait1 - wait0) - inStep;
    time[T.WAIT] += wait2 - wait0;
    time[T.LEAF_COPY] += this.handMs + this.blockCopyMs;
    time[T.REDUCE] += this.reduceMs;
    time[T.BARRIERS] += tick + 1; // and the step's end, where the workers join
  }

  /** Combines gradient block b over all leaves (the tree finished from every participant's nodes) into the shared gradients. */
  private reduceBlock(b: number, L: number, tree: { all: TreeNode[]; cover: I32Buffer }): void {
    const t0 = performance.now(), v = this.v, Pl = v.sizes.leafValues;
    const [c0, c1] = this.blocks[b], width = c1 - c0;
    const rows = this.buffer('leafRows', L * width), rv = rows.view;
    for (const nd of tree.all) rv.set(v.leaves.subarray(nd.start * Pl + c0, nd.start * Pl + c1), nd.start * width);
    const dst = this.buffer('columns', width);
    const t1 = performance.now();
    pairwiseRowsPartial(this.be, rows, L, width, tree.cover, dst);
    const t2 = performance.now();
    v.grads.set(dst.view, c0);
    const t3 = performance.now();
    this.blockCopyMs += t1 - t0 + t3 - t2;
    this.reduceMs += t2 - t1;
    this.time[T.BLOCKS]++;
  }
}

/** Tests: fails this worker by throwing, by ending its thread at once as a crash would (Node), by never coming back, or slows it down by 20 ms for each of its `leaves`. */
function injectedFault(how: Exclude<Fault, 'heavy' | 'late'>, leaves: number): void {
  if (how === 'throw') throw new Error('injected fault');
  if (how === 'exit') (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(1);
  if (how === 'slow') return slowDown(20 * leaves);
  for (;;) { /* hang */ }
}

/** Each parameter's offset in the concatenation of `ps`. */
function offsets(ps: Param[]): Map<Param, number> {
  const at = new Map<Param, number>();
  let off = 0;
  for (const p of ps) {
    at.set(p, off);
    off += p.value.length;
  }
  return at;
}

