/**
 * An inference worker: its own wasm instance and model copy; each call it
 * takes the parameters and its contiguous run of chunks of the input from
 * shared memory and writes their probabilities (predict) or their loss and
 * correct count (evaluate), computed exactly as the model's own predict and
 * evaluate compute each chunk.
 */
import type { BackendName } from '../backend/load.js';
import type { Dataset } from '../model.js';
import { C, inferViews, ownedLeaves, type InferSizes, type ModelSpec } from './protocol.js';
import { buildWorkerModel, serve, workerInit } from './worker-common.js';

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
  const [k0, k1] = ownedLeaves(chunks, w, s.workers); // the same contiguous split as training's leaves
  if (k0 === k1) return;
  const version = Atomics.load(v.ctrl, C.PARAMS_VERSION);
  if (version !== paramsVersion) {
    let at = 0;
    for (const p of params) {
      p.value.view.set(v.params.subarray(at, at + p.value.length));
      at += p.value.length;
    }
    model.weightsChanged();
    paramsVersion = version;
  }
  const float = Atomics.load(v.ctrl, C.FLOAT) === 1, evaluate = Atomics.load(v.ctrl, C.EVALUATE) === 1;
  const data: Dataset = { images: float ? v.inputF32.subarray(0, n * s.inputSize) : v.inputU8.subarray(0, n * s.inputSize), labels: v.labels, count: n };
  for (let k = k0; k < k1; k++) {
    const from = k * chunk, m = Math.min(chunk, n - from);
    if (evaluate) {
      const r = model.evaluateChunk(data, from, m);
      v.chunkLoss[k] = r.loss;
      v.chunkCorrect[k] = r.correct;
    } else {
      v.probs.set(model.predictChunk(data, from, m), from * s.classes);
    }
  }
}

serve(v.ctrl, call);
model.dispose();
