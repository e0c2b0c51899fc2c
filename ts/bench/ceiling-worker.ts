/**
 * A thread of a ceiling probe (ceiling.ts): its own wasm instance (and, for
 * the independent-trainings probe, its own model), a share of each probe
 * step, run by the pool workers' own command loop.
 */
import { instantiateBackend } from '../backend/load.js';
import { serve, workerInit } from '../parallel/worker-common.js';
import { probeShares, type ProbeInit } from './ceiling.js';

const init = await workerInit<ProbeInit>();
const ctrl = new Int32Array(init.sab);
const be = await instantiateBackend(init.backend, init.module);
const shares = probeShares(be, ctrl, init);
serve(ctrl, () => shares.share());
shares.dispose();
