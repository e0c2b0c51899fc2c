/** A thread of the barrier probe (ceiling.ts): its own wasm instance, a share of each probe step. */
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateBackend } from '../backend/load.js';
import { C } from '../parallel/protocol.js';
import { probeStep, type ProbeInit } from './ceiling.js';

const init = workerData as ProbeInit;
const ctrl = new Int32Array(init.sab);
const be = await instantiateBackend(init.backend, init.module);
let seen = Atomics.load(ctrl, C.SEQ);
parentPort!.postMessage('ready');
for (;;) {
  // Spin a little for the next step (as the pool's workers do), then sleep.
  const until = performance.now() + 1;
  for (let k = 0; Atomics.load(ctrl, C.SEQ) === seen; k++) {
    if ((k & 1023) === 1023 && performance.now() > until) Atomics.wait(ctrl, C.SEQ, seen);
  }
  seen = Atomics.load(ctrl, C.SEQ);
  if (Atomics.load(ctrl, C.CMD) === -1) break;
  probeStep(be, ctrl, init.workers, init.barriers, init.iters, 1);
  if (Atomics.add(ctrl, C.DONE, 1) + 1 >= init.workers - 1) Atomics.notify(ctrl, C.DONE);
}
