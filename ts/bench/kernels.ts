/**
 * Kernel benchmark: GFLOP/s of GEMM and conv kernels at LeNet-5 batch-128 shapes,
 * the relaxed (where the engine runs it), SIMD and scalar builds measured side
 * by side in one run, each SIMD build's kernels as a share of its own peak.
 *
 * A kernel is timed with its operands in cache, as in a training step, where
 * the layer before has just written them: each ~2 ms slice of a build starts
 * with a call timed apart, which reads operands the other builds' calls have
 * partly evicted since (gemm-conv1's three copies of B and C, 37 MB, exceed an
 * L3 slice); that call's share of the peak is reported beside.
 */
import { initBackend, relaxedSupported, type Backend } from '../backend/load.js';
import type { F32Buffer } from '../backend/memory.js';
import { gemm } from '../kernels/gemm.js';
import { conv2dBackward, conv2dForward, convGeometry, convWorkspaceSize, type ConvGeometry } from '../kernels/conv.js';
import { interleavedRounds, interleavedRoundsFirstApart, median, medianRatio } from './timing.js';

/** One benchmark line. */
export interface KernelResult {
  name: string;
  description: string;
  flops: number;
  simdGflops: number;
  scalarGflops: number;
  /** SIMD speed over scalar speed: the median of the per-round ratios. */
  ratio: number;
  /** The SIMD kernel's GFLOP/s as a share of the SIMD multiply-add peak measured in the same rounds (median of per-round shares). */
  peakShare: number;
  /** The relaxed build's GFLOP/s, and as a share of its fused multiply-add peak in the same rounds (null where the engine has no relaxed SIMD). */
  relaxedGflops: number | null;
  relaxedPeakShare: number | null;
  /** The same shares for each slice's first call, whose operands the other builds' calls have partly evicted (relaxed null where not run). */
  evictedPeakShare: number;
  relaxedEvictedPeakShare: number | null;
}

/** Rounds of the peak loop per call: about 1.5 ms at 50 GFLOP/s. */
const PEAK_ITERS = 800_000;
const PEAK_FLOPS = PEAK_ITERS * 12 * 4 * 2;

/** A call of the 12-chain f32x4 multiply-add loop (see peak_madd in lib.rs). */
function peakRun(be: Backend): () => void {
  return () => { be.k.peak_madd(PEAK_ITERS, 0.999999, 1e-6); };
}

/** A call of the same loop through F4::madd: fused multiply-adds in the relaxed build (see peak_fma in lib.rs). */
function fmaPeakRun(be: Backend): () => void {
  return () => { be.k.peak_fma(PEAK_ITERS, 0.999999, 1e-6); };
}

/** The relaxed build, where the engine runs relaxed SIMD. */
async function relaxedBuild(): Promise<Backend | null> {
  return relaxedSupported() ? initBackend({ backend: 'relaxed' }) : null;
}

/**
 * This machine's f32x4 peaks in GFLOP/s, timed side by side: multiply-add
 * chains (SIMD and scalar builds) and fused multiply-add chains (the relaxed
 * build's relaxed_madd; null where the engine has no relaxed SIMD).
 */
export async function benchPeak(o: { rounds?: number } = {}): Promise<{ simdGflops: number; scalarGflops: number; relaxedGflops: number | null }> {
  const simd = await initBackend({ backend: 'simd' }), scalar = await initBackend({ backend: 'scalar' }), relaxed = await relaxedBuild();
  const [ts, tc, tr] = interleavedRounds([peakRun(simd), peakRun(scalar), ...(relaxed ? [fmaPeakRun(relaxed)] : [])], { rounds: o.rounds ?? 5, minMs: 80 });
  return { simdGflops: PEAK_FLOPS / median(ts) / 1e9, scalarGflops: PEAK_FLOPS / median(tc) / 1e9, relaxedGflops: tr ? PEAK_FLOPS / median(tr) / 1e9 : null };
}

interface Case {
  name: string;
  description: string;
  flops: number;
  /** Allocates inputs on `be` and returns the call to time plus a cleanup. */
  setup(be: Backend): { run: () => void; free: () => void };
}

function randomBuffer(be: Backend, n: number, seed: number): F32Buffer {
  const b = be.heap.alloc(n);
  const v = b.view;
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
  }
  return b;
}

function gemmCase(name: string, description: string, m: number, n: number, k: number): Case {
  return {
    name, description, flops: 2 * m * n * k,
    setup(be) {
      const a = randomBuffer(be, m * k, 1), b = randomBuffer(be, k * n, 2), c = be.heap.alloc(m * n);
      return { run: () => gemm(be, { m, n, k }, a, b, c), free: () => [a, b, c].forEach((x) => x.free()) };
    },
  };
}

function convCases(layer: string, g: ConvGeometry, needDx: boolean, route: { forward: string; backward: string }): Case[] {
  const fwdFlops = 2 * g.n * g.f * g.oh * g.ow * g.c * g.kh * g.kw;
  const shape = `x[${g.n},${g.c},${g.h},${g.w}] * w[${g.f},${g.c},${g.kh},${g.kw}]`;
  const alloc = (be: Backend) => ({
    x: randomBuffer(be, g.n * g.c * g.h * g.w, 3), w: randomBuffer(be, g.f * g.c * g.kh * g.kw, 4), b: randomBuffer(be, g.f, 5),
    y: be.heap.alloc(g.n * g.f * g.oh * g.ow), dy: randomBuffer(be, g.n * g.f * g.oh * g.ow, 6), cols: be.heap.alloc(convWorkspaceSize(be, g)),
    dx: be.heap.alloc(g.n * g.c * g.h * g.w), dw: be.heap.alloc(g.f * g.c * g.kh * g.kw), db: be.heap.alloc(g.f),
  });
  const freeAll = (t: Record<string, F32Buffer>) => Object.values(t).forEach((x) => x.free());
  return [
    {
      name: `${layer}-forward`, description: `${shape} forward: ${route.forward}`, flops: fwdFlops,
      setup(be) {
        const t = alloc(be);
        return { run: () => conv2dForward(be, g, t.x, t.w, t.b, t.y, t.cols), free: () => freeAll(t) };
      },
    },
    {
      name: `${layer}-backward`, description: `${shape} backward (${needDx ? 'dx, ' : ''}dw, db): ${route.backward}`, flops: fwdFlops * (needDx ? 2 : 1),
      setup(be) {
        const t = alloc(be);
        return { run: () => conv2dBackward(be, g, t.x, t.w, t.dy, needDx ? t.dx : null, t.dw, t.db, t.cols), free: () => freeAll(t) };
      },
    },
  ];
}

/** The benchmark list: LeNet-5 (batch 128) GEMM shapes, square GEMMs, and each conv's forward/backward. */
export function kernelCases(batch = 128): Case[] {
  const conv1 = convGeometry([batch, 1, 32, 32], 6, [5, 5], [1, 1], 'valid');
  const conv2 = convGeometry([batch, 6, 14, 14], 16, [5, 5], [1, 1], 'valid');
  const conv3 = convGeometry([batch, 16, 5, 5], 120, [5, 5], [1, 1], 'valid');
  return [
    gemmCase('gemm-conv1', '[6x25] x [25x100352] (LeNet conv1 as one GEMM)', 6, 100352, 25),
    gemmCase('gemm-conv2', '[16x150] x [150x12800] (LeNet conv2)', 16, 12800, 150),
    gemmCase('gemm-conv3', '[120x400] x [400x128] (LeNet conv3)', 120, 128, 400),
    gemmCase('gemm-dense', '[128x120] x [120x84] (LeNet dense)', 128, 84, 120),
    gemmCase('gemm-256', '256^3', 256, 256, 256),
    gemmCase('gemm-512', '512^3', 512, 512, 512),
    ...convCases('conv1', conv1, false, { forward: 'implicit GEMM, row kernel', backward: 'implicit GEMM' }),
    ...convCases('conv2', conv2, true, { forward: 'implicit GEMM, 2x16 tiles', backward: 'dw implicit (2x16), dx GEMM + col2im' }),
    ...convCases('conv3', conv3, true, { forward: 'one GEMM (window = input)', backward: 'GEMMs' }),
  ];
}

/** Runs every case on both builds, interleaved; `filter` keeps names containing it. */
export async function benchKernels(opts: { filter?: string; rounds?: number; minMs?: number; onResult?: (r: KernelResult) => void } = {}): Promise<KernelResult[]> {
  const simd = await initBackend({ backend: 'simd' });
  const scalar = await initBackend({ backend: 'scalar' });
  const relaxed = await relaxedBuild();
  const out: KernelResult[] = [];
  for (const c of kernelCases()) {
    if (opts.filter && !c.name.includes(opts.filter)) continue;
    const a = c.setup(simd), b = c.setup(scalar), f = relaxed ? c.setup(relaxed) : null;
    // The peak loops run in the same rounds, so each kernel's share of its build's peak is measured at the same clock.
    const runs = [a.run, b.run, peakRun(simd), ...(f && relaxed ? [f.run, fmaPeakRun(relaxed)] : [])];
    const { inCache, firstCalls } = interleavedRoundsFirstApart(runs, { rounds: opts.rounds ?? 5, minMs: opts.minMs ?? 80 });
    const [ts, tc, tp, tf, tfp] = inCache, [es, , , ef] = firstCalls;
    a.free();
    b.free();
    f?.free();
    const share = (t: number[], peak: number[]) => median(t.map((x, i) => (c.flops / x) / (PEAK_FLOPS / peak[i])));
    const r = {
      name: c.name, description: c.description, flops: c.flops,
      simdGflops: c.flops / median(ts) / 1e9, scalarGflops: c.flops / median(tc) / 1e9, ratio: medianRatio(ts, tc),
      peakShare: share(ts, tp),
      relaxedGflops: tf ? c.flops / median(tf) / 1e9 : null, relaxedPeakShare: tf ? share(tf, tfp) : null,
      evictedPeakShare: share(es, tp), relaxedEvictedPeakShare: ef ? share(ef, tfp) : null,
    };
    out.push(r);
    opts.onResult?.(r);
  }
  return out;
}
