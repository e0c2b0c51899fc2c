/** Pooling and zero-padding kernels over NCHW planes. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer, I32Buffer } from '../backend/memory.js';
import { checkBuffer, checkPositive } from './check.js';

/** Shapes of a pooling call: `planes` = N*C planes of h x w, windows kh x kw, strides sh x sw. */
export interface PoolGeometry {
  planes: number; h: number; w: number;
  kh: number; kw: number; sh: number; sw: number;
  oh: number; ow: number;
}

/** Output size of 'valid' pooling; throws if the window does not fit. */
export function poolGeometry(planes: number, h: number, w: number, pool: readonly [number, number], strides: readonly [number, number]): PoolGeometry {
  const [kh, kw] = pool;
  const [sh, sw] = strides;
  for (const [name, v] of [['pool height', kh], ['pool width', kw], ['stride', sh], ['stride', sw], ['height', h], ['width', w]] as const) {
    checkPositive('pool2d', name, v);
  }
  if (kh > h || kw > w) throw new Error(`pool2d: a ${kh}x${kw} window does not fit a ${h}x${w} input`);
  return { planes, h, w, kh, kw, sh, sw, oh: Math.floor((h - kh) / sh) + 1, ow: Math.floor((w - kw) / sw) + 1 };
}

function sizes(g: PoolGeometry): [number, number] {
  return [g.planes * g.h * g.w, g.planes * g.oh * g.ow];
}

/**
 * Max pooling; argmax receives the in-plane index of each window's first
 * maximum (null at inference: the same values, no indices).
 */
export function maxPoolForward(be: Backend, g: PoolGeometry, x: F32Buffer, y: F32Buffer, argmax: I32Buffer | null): void {
  const [nin, nout] = sizes(g);
  checkBuffer('maxPoolForward', 'x', x, nin);
  checkBuffer('maxPoolForward', 'y', y, nout);
  if (argmax) checkBuffer('maxPoolForward', 'argmax', argmax, nout);
  be.k.maxpool2d_forward(x.ptr, y.ptr, argmax ? argmax.ptr : 0, g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.oh, g.ow);
}

/** dx = gradient of max pooling (routes each dy to its argmax cell; dx overwritten). */
export function maxPoolBackward(be: Backend, g: PoolGeometry, dy: F32Buffer, argmax: I32Buffer, dx: F32Buffer): void {
  const [nin, nout] = sizes(g);
  checkBuffer('maxPoolBackward', 'dy', dy, nout);
  checkBuffer('maxPoolBackward', 'argmax', argmax, nout);
  checkBuffer('maxPoolBackward', 'dx', dx, nin);
  be.k.maxpool2d_backward(dy.ptr, argmax.ptr, dx.ptr, g.planes, g.h, g.w, g.oh, g.ow);
}

/** Average pooling. */
export function avgPoolForward(be: Backend, g: PoolGeometry, x: F32Buffer, y: F32Buffer): void {
  const [nin, nout] = sizes(g);
  checkBuffer('avgPoolForward', 'x', x, nin);
  checkBuffer('avgPoolForward', 'y', y, nout);
  be.k.avgpool2d_forward(x.ptr, y.ptr, g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.oh, g.ow);
}

/** dx = gradient of average pooling (dx overwritten). */
export function avgPoolBackward(be: Backend, g: PoolGeometry, dy: F32Buffer, dx: F32Buffer): void {
  const [nin, nout] = sizes(g);
  checkBuffer('avgPoolBackward', 'dy', dy, nout);
  checkBuffer('avgPoolBackward', 'dx', dx, nin);
  be.k.avgpool2d_backward(dy.ptr, dx.ptr, g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.oh, g.ow);
}

/** Zero padding geometry: planes of h x w placed at (top, left) in oh x ow. */
export interface PadGeometry { planes: number; h: number; w: number; top: number; left: number; oh: number; ow: number }

/** y = x padded with `value` (default 0). */
export function padForward(be: Backend, g: PadGeometry, x: F32Buffer, y: F32Buffer, value = 0): void {
  checkBuffer('padForward', 'x', x, g.planes * g.h * g.w);
  checkBuffer('padForward', 'y', y, g.planes * g.oh * g.ow);
  be.k.pad2d_forward(x.ptr, y.ptr, g.planes, g.h, g.w, g.top, g.left, g.oh, g.ow, value);
}

/** dx = crop of dy (gradient of zero padding). */
export function padBackward(be: Backend, g: PadGeometry, dy: F32Buffer, dx: F32Buffer): void {
  checkBuffer('padBackward', 'dy', dy, g.planes * g.oh * g.ow);
  checkBuffer('padBackward', 'dx', dx, g.planes * g.h * g.w);
  be.k.pad2d_backward(dy.ptr, dx.ptr, g.planes, g.h, g.w, g.top, g.left, g.oh, g.ow);
}
