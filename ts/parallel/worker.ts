/**
 * A training worker (a Node worker thread or a Web Worker): its own wasm
 * instance of the pool's build and its own copy of the model, running its
 * part of each step (shard-trainer.ts) until the pool ends it.
 */
import type { BackendName } from '../backend/load.js';
import type { Dataset } from '../engine/types.js';
import type { Augment } from '../data/augment.js';
import { views, type LayoutSizes } from './layout.js';
import { ShardTrainer } from './shard-trainer.js';
import { buildWorkerModel, serve, workerInit, type ModelSpec } from './worker-common.js';

/** What the pool hands each worker. */
export interface WorkerInit {
  index: number;
  sab: SharedArrayBuffer;
  sizes: LayoutSizes;
  backend: BackendName;
  module: WebAssembly.Module;
  model: ModelSpec;
  data: { images: SharedArrayBuffer; labels: SharedArrayBuffer; count: number; float: boolean };
  /** How the worker augments the images it stages (see data/augment.ts), or null. */
  augment: Augment | null;
}

const init = await workerInit<WorkerInit>();
const v = views(init.sab, init.sizes);
const { be, model } = await buildWorkerModel(init.backend, init.module, init.model);
const data: Dataset = {
  images: init.data.float ? new Float32Array(init.data.images) : new Uint8Array(init.data.images),
  labels: new Int32Array(init.data.labels),
  count: init.data.count,
};
const trainer = new ShardTrainer(init.index, v, be, model, data, false, Infinity, init.augment);
serve(v.ctrl, () => trainer.step());
model.dispose();
