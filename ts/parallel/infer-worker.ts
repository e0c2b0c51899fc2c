/**
 * An inference worker: its own wasm instance and model copy; each call it
 * takes the parameters from shared memory, then chunks of the input one at a
 * time until none is left, and writes their probabilities (predict) or
 * logits (evaluate), computed as the model's own predict computes them.
 */
import type { BackendName } from '../backend/load.js';
import type { Dataset } from '../engine/types.js';
import { C, inferViews, type InferSizes, type ModelSpec } from './layout.js';
import { faultFor, slowDown } from './faults.js';
import { buildWorkerModel, serve, workerInit } from './worker-common.js';
import { unpack } from './pack.js';

export interface InferWorkerInit {
  index: number;
  sab: SharedArrayBuffer;
  sizes: InferSizes;
  backend: BackendName;
  module: WebAssembly.Module;
  model: ModelSpec;
}

const init = await workerInit<InferWorkerInit>();
const w = init.index, s = init.sizes;
const v = inferViews(init.sab, s);
const { model } = await buildWorkerModel(init.backend, init.module, init.model);
const params = model.params();
let paramsVersion = -1;

function call(): void {
  const n = Atomics.load(v.ctrl, C.N), chunk = Atomics.load(v.ctrl, C.CHUNK);
  const chunks = Math.ceil(n / chunk);
  v.chunksBy[w] = 0;
  const fault = faultFor(v.ctrl, w), slow = fault === 'slow';
  // Tests ('late'): no chunk until the others have taken them all.
  if (fault === 'late' && s.workers > 1) while (Atomics.load(v.ctrl, C.NEXT_CHUNK) < chunks) Atomics.wait(v.ctrl, C.NEXT_CHUNK, Atomics.load(v.ctrl, C.NEXT_CHUNK), 1);
  const version = Atomics.load(v.ctrl, C.PARAMS_VERSION);
  if (version !== paramsVersion) {
    unpack(v.params, params.map((p) => p.value));
    model.weightsChanged();
    paramsVersion = version;
  }
  const float = Atomics.load(v.ctrl, C.FLOAT) === 1, evaluate = Atomics.load(v.ctrl, C.EVALUATE) === 1;
  const data: Dataset = { images: float ? v.inputF32.subarray(0, n * s.inputSize) : v.inputU8.subarray(0, n * s.inputSize), labels: [], count: n };
  // Each worker takes the next chunk until none is left: a worker that runs
  // slower (its core shared, or a slower core) takes fewer. Each chunk's
  // result is the same whoever computes it.
  for (let k = Atomics.add(v.ctrl, C.NEXT_CHUNK, 1); k < chunks; k = Atomics.add(v.ctrl, C.NEXT_CHUNK, 1)) {
    if (slow) slowDown();
    v.chunksBy[w]++;
    const from = k * chunk, m = Math.min(chunk, n - from);
    v.outputs.set(evaluate ? model.logitsChunk(data, from, m) : model.predictChunk(data, from, m), from * s.classes);
  }
}

serve(v.ctrl, call);
model.dispose();
