/**
 * A thread of the barrier probe (ceiling.ts): its own wasm instance, a share
 * of each probe step, run by the pool workers' own command loop.
 */
import { instantiateBackend } from '../backend/load.js';
import { serve, workerInit } from '../parallel/worker-common.js';
import { probeStep, type ProbeInit } from './ceiling.js';

const init = await workerInit<ProbeInit>();
const ctrl = new Int32Array(init.sab);
const be = await instantiateBackend(init.backend, init.module);
serve(ctrl, () => probeStep(be, ctrl, init.workers, init.barriers, init.iters, 1));
