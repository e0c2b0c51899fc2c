/** Conv2d kernels (NCHW): forward, backward (data, weights, bias), im2col/col2im. */
import type { Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { checkBuffer, checkPositive } from './check.js';

/** Padding: 'valid' (none), 'same' (TensorFlow rule: out = ceil(in / stride)), or explicit [top/bottom, left/right]. */
export type Padding = 'valid' | 'same' | number | readonly [number, number];

/** Everything a conv kernel needs to know about shapes. */
export interface ConvGeometry {
  n: number; c: number; h: number; w: number; f: number;
  kh: number; kw: number; sh: number; sw: number;
  /** Zero rows/cols added on the top/left (bottom/right follow from oh/ow). */
  ph: number; pw: number;
  oh: number; ow: number;
}

function padOne(size: number, k: number, s: number, padding: Padding, axis: 0 | 1): [pad: number, out: number] {
  if (padding === 'valid') return [0, Math.floor((size - k) / s) + 1];
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    return [Math.floor(total / 2), out];
  }
  const p = typeof padding === 'number' ? padding : padding[axis];
  if (!Number.isInteger(p) || p < 0) throw new Error(`conv2d: padding must be 'valid', 'same' or non-negative integers, got ${String(padding)}`);
  return [p, Math.floor((size + 2 * p - k) / s) + 1];
}

/** Computes the output size and padding of a convolution or pooling window. */
export function convGeometry(
  input: readonly [n: number, c: number, h: number, w: number], filters: number,
  kernel: readonly [number, number], strides: readonly [number, number], padding: Padding,
): ConvGeometry {
  const [n, c, h, w] = input;
  const [kh, kw] = kernel;
  const [sh, sw] = strides;
  for (const [name, v] of [['kernel height', kh], ['kernel width', kw], ['stride', sh], ['stride', sw], ['filters', filters], ['channels', c], ['height', h], ['width', w]] as const) {
    checkPositive('conv2d', name, v);
  }
  const [ph, oh] = padOne(h, kh, sh, padding, 0);
  const [pw, ow] = padOne(w, kw, sw, padding, 1);
  if (oh < 1 || ow < 1) {
    throw new Error(`conv2d: a ${kh}x${kw} kernel with stride ${sh}x${sw} and padding ${JSON.stringify(padding)} does not fit a ${h}x${w} input`);
  }
  return { n, c, h, w, f: filters, kh, kw, sh, sw, ph, pw, oh, ow };
}

const ARGS = (g: ConvGeometry) => [g.n, g.c, g.h, g.w, g.f, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow] as const;

/**
 * Floats of workspace a conv call needs, as the kernels compute it: the im2col
 * matrix of a group of images (small outputs are batched into one GEMM), or with
 * `keep` those of the whole batch, kept by a training forward for the backward.
 * Unpadded convolutions (LeNet's) need neither: they run as implicit GEMMs over
 * x and take only small tables and packed panels.
 */
export function convWorkspaceSize(be: Backend, g: ConvGeometry, keep = false): number {
  return be.k.conv2d_workspace_len(...ARGS(g), keep ? 1 : 0);
}

/** Floats im2col/col2im of one image use: C*KH*KW x OH*OW. */
export function im2colSize(g: ConvGeometry): number {
  return g.c * g.kh * g.kw * g.oh * g.ow;
}

function checkConv(name: string, g: ConvGeometry, bufs: [string, F32Buffer | null, number][]): void {
  checkPositive(name, 'batch', g.n);
  for (const [bn, b, need] of bufs) if (b) checkBuffer(name, bn, b, need);
}

/**
 * y [N,F,OH,OW] = conv(x [N,C,H,W], w [F,C,KH,KW]) + bias [F] (bias optional),
 * then relu when `relu`, applied by the kernel as it stores each output (one
 * pass over y; the same bits as a separate reluForward).
 * With `keep`, the workspace (sized with keep) retains the im2col matrices so a
 * following conv2dBackward(..., cached = true) of the same batch skips them.
 */
export function conv2dForward(
  be: Backend, g: ConvGeometry, x: F32Buffer, w: F32Buffer, bias: F32Buffer | null, y: F32Buffer, cols: F32Buffer,
  keep = false, relu = false,
): void {
  checkConv('conv2dForward', g, [['x', x, g.n * g.c * g.h * g.w], ['w', w, g.f * g.c * g.kh * g.kw], ['bias', bias, g.f],
    ['y', y, g.n * g.f * g.oh * g.ow], ['cols', cols, convWorkspaceSize(be, g, keep)]]);
  be.k.conv2d_forward(x.ptr, w.ptr, bias ? bias.ptr : 0, y.ptr, cols.ptr, ...ARGS(g), keep ? 1 : 0, relu ? 1 : 0);
}

/**
 * Floats of workspace conv2dForwardPool2 needs for the convolution `g`, or 0
 * where it does not apply (the kernels fuse the pooling into the row kernel
 * only: stride 1 along x, output rows of whole vectors, filters that do not
 * fill the panels — LeNet's conv1; a padded convolution's input is first
 * copied with its zeros into the workspace).
 */
export function convPool2WorkspaceSize(be: Backend, g: ConvGeometry): number {
  return be.k.conv2d_pool2_workspace_len(...ARGS(g));
}

/**
 * Inference: y [N, F, floor(OH/2), floor(OW/2)] = 2x2 max pooling (stride 2)
 * of conv2dForward's output (relu when `relu`), computed two conv rows at a
 * time and pooled from cache: the conv output is never written out. The same
 * values as conv2dForward then maxPoolForward. Only where
 * convPool2WorkspaceSize(g) > 0.
 */
export function conv2dForwardPool2(
  be: Backend, g: ConvGeometry, x: F32Buffer, w: F32Buffer, bias: F32Buffer | null, y: F32Buffer, work: F32Buffer, relu = false,
): void {
  const need = convPool2WorkspaceSize(be, g);
  if (need === 0) throw new Error(`conv2dForwardPool2: no fused pooling for this convolution (${JSON.stringify(g)}); use conv2dForward then maxPoolForward`);
  checkConv('conv2dForwardPool2', g, [['x', x, g.n * g.c * g.h * g.w], ['w', w, g.f * g.c * g.kh * g.kw], ['bias', bias, g.f],
    ['y', y, g.n * g.f * Math.floor(g.oh / 2) * Math.floor(g.ow / 2)], ['work', work, need]]);
  be.k.conv2d_forward_pool2(x.ptr, w.ptr, bias ? bias.ptr : 0, y.ptr, work.ptr, ...ARGS(g), relu ? 1 : 0);
}

/**
 * Overwrites dw, dbias (if given) and dx (if given) with the gradients of conv2dForward.
 * `cached`: the workspace still holds what a `keep` forward of this batch left.
 */
export function conv2dBackward(
  be: Backend, g: ConvGeometry, x: F32Buffer, w: F32Buffer, dy: F32Buffer,
  dx: F32Buffer | null, dw: F32Buffer, dbias: F32Buffer | null, cols: F32Buffer, cached = false,
): void {
  checkConv('conv2dBackward', g, [['x', x, g.n * g.c * g.h * g.w], ['w', w, g.f * g.c * g.kh * g.kw], ['dy', dy, g.n * g.f * g.oh * g.ow],
    ['dx', dx, g.n * g.c * g.h * g.w], ['dw', dw, g.f * g.c * g.kh * g.kw], ['dbias', dbias, g.f], ['cols', cols, convWorkspaceSize(be, g, cached)]]);
  be.k.conv2d_backward(x.ptr, w.ptr, dy.ptr, dx ? dx.ptr : 0, dw.ptr, dbias ? dbias.ptr : 0, cols.ptr, ...ARGS(g), cached ? 1 : 0);
}

/** im2col of image 0 of x into cols [C*KH*KW, OH*OW]. */
export function im2col(be: Backend, g: ConvGeometry, x: F32Buffer, cols: F32Buffer): void {
  checkConv('im2col', { ...g, n: 1 }, [['x', x, g.c * g.h * g.w], ['cols', cols, im2colSize(g)]]);
  be.k.im2col(x.ptr, cols.ptr, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
}

/** dx [C,H,W] += col2im(dcols). */
export function col2im(be: Backend, g: ConvGeometry, dcols: F32Buffer, dx: F32Buffer): void {
  checkConv('col2im', { ...g, n: 1 }, [['dcols', dcols, im2colSize(g)], ['dx', dx, g.c * g.h * g.w]]);
  be.k.col2im(dcols.ptr, dx.ptr, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow);
}
