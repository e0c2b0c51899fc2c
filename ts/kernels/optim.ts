/** In-place optimiser updates of one parameter tensor. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { checkBuffer, checkFinite } from './check.js';

/** SGD hyper-parameters for one step (PyTorch semantics). */
export interface SgdStep { lr: number; momentum: number; weightDecay: number; nesterov: boolean }

/** g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v). */
export function sgdUpdate(be: Backend, w: F32Buffer, g: F32Buffer, v: F32Buffer, s: SgdStep): void {
  const len = w.length;
  checkBuffer('sgdUpdate', 'g', g, len);
  checkBuffer('sgdUpdate', 'v', v, len);
  checkFinite('sgdUpdate', 'lr', s.lr);
  be.k.sgd_update(w.ptr, g.ptr, v.ptr, len, s.lr, s.momentum, s.weightDecay, s.nesterov ? 1 : 0);
}

/** Adam hyper-parameters for one step; `step` counts from 1. */
export interface AdamStep { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; step: number }

/** Adam (L2 weight decay) or AdamW (decoupled) with bias correction. */
export function adamUpdate(be: Backend, w: F32Buffer, g: F32Buffer, m: F32Buffer, v: F32Buffer, s: AdamStep): void {
  const len = w.length;
  for (const [n, b] of [['g', g], ['m', m], ['v', v]] as const) checkBuffer('adamUpdate', n, b, len);
  checkFinite('adamUpdate', 'lr', s.lr);
  if (!Number.isInteger(s.step) || s.step < 1) throw new Error(`adamUpdate: step must be an integer >= 1, got ${s.step}`);
  const bc1 = 1 - Math.pow(s.beta1, s.step);
  const bc2 = 1 - Math.pow(s.beta2, s.step);
  be.k.adam_update(w.ptr, g.ptr, m.ptr, v.ptr, len, s.lr, s.beta1, s.beta2, s.eps, s.weightDecay, s.decoupled ? 1 : 0, bc1, bc2);
}
