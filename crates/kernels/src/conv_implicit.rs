//! Convolution without an im2col matrix ("implicit GEMM"), for windows that
//! never leave the input (no padding; any stride). LeNet's conv1 and conv2;
//! padded convolutions come here too, their input first copied with its
//! zeros (conv.rs, `padded`).
//!
//! With tap[k] = ci*H*W + ky*W + kx (where tap k of a window reads, relative to
//! the window's top-left corner) and pos[p] = oy*sh*W + ox*sw (the corner of
//! output position p), both passes that im2col serves are GEMMs over x itself:
//!   forward:          y[n][f][p] = bias[f] + sum_k  x_n[pos[p] + tap[k]] * w[f][k]
//!   backward-weights: dw[f][k]   =          sum_n,p x_n[pos[p] + tap[k]] * dy[n][f][p]
//! The microkernel `gather` multiplies R gathered rows of that implicit matrix
//! (row i starts at its own address and steps through an offset table, one
//! splat load per element) by a packed panel with filters across the lanes
//! (w^T for forward, dy^T for backward-weights). It is the GEMM microkernel
//! with A read through a table: no 10 MB im2col matrix is written, and nothing
//! but the small w^T / dy^T panels is packed.
//!
//! Sums run in the order the im2col + GEMM route uses (k in blocks of
//! gemm::KC, each block's partial sum added to the running value; images in
//! the same groups), so both routes give the same bits.
//! Backward-data of unpadded convolutions stays GEMM + col2im in conv.rs: as a
//! convolution of the padded dy it would multiply twice as many zeros as it
//! adds. Padded stride-1 ones run it as that convolution (conv.rs, `data_as_conv`).

use crate::conv_geom::{bias_grad, group_size, Geom};
use crate::gemm::KC;
use crate::simd::F4;
use core::mem::MaybeUninit;

/// Rows per tile (output positions for forward, taps for backward-weights) and
/// f32x4 vectors of filters per tile: 4x8 with SIMD (8 accumulators + 2 panel
/// vectors + 1 broadcast, within V8's ~14 registers), 2x4 scalar — the GEMM's tiles.
#[cfg(target_feature = "simd128")]
const R: usize = 4;
#[cfg(target_feature = "simd128")]
const V: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const R: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const V: usize = 1;
/// Filters per packed panel.
const NR: usize = 4 * V;
/// Row kernel tiles (positions across the lanes): FT filters x RV vectors of 4
/// positions; 4 x 2 with SIMD (8 accumulators + 2 x vectors + 1 broadcast), 2 x 1
/// without (8 scalar accumulators). Filters that do not fill a chunk of FT form
/// one narrower chunk with longer tiles (see `row_vectors`).
#[cfg(target_feature = "simd128")]
const FT: usize = 4;
#[cfg(target_feature = "simd128")]
const RV: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const FT: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const RV: usize = 1;

/// Vectors per row tile for a chunk of `ff` filters. With SIMD, a tile keeps 6-8
/// accumulators within ~14 live v128 (V8 spills beyond): 4 x 2, 3 x 2, and 2 x 4
/// or 1 x 4 for a narrow last chunk. LeNet's conv1 (6 filters) as 4 x 2 + 2 x 4
/// ran 1.10-1.15x faster than as two chunks of 3 x 2, whose 6 add chains each
/// sit at the add latency (microbenchmark, interleaved on one machine).
/// Without SIMD every chunk uses 2 x 1 (8 scalar accumulators).
const fn row_vectors(ff: usize) -> usize {
    if cfg!(target_feature = "simd128") && ff <= 2 { 4 } else { RV }
}

/// Whether this route applies: every window lies inside the input (no padding
/// on any side), and the convolution is neither a dense layer in disguise nor
/// a 1x1 one, which conv.rs hands to the GEMM with no copy at all.
pub fn applies(g: &Geom) -> bool {
    let inside = g.ph == 0 && g.pw == 0 && g.oh >= 1 && g.ow >= 1
        && (g.oh - 1) * g.sh + g.kh <= g.h && (g.ow - 1) * g.sw + g.kw <= g.w;
    let whole_input = g.oh == 1 && g.ow == 1 && g.kh == g.h && g.kw == g.w;
    let one_by_one = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1;
    inside && !whole_input && !one_by_one
}

/// Packed panels of filters: ceil(F / NR).
#[inline]
fn panels(g: &Geom) -> usize {
    (g.f + NR - 1) / NR
}

/// Where each table and panel lives in the workspace (offsets in floats).
struct Layout {
    tap: usize,
    pos: usize,
    /// Backward-weights: x offset of each column of a group (image, position).
    col: usize,
    /// w^T panels: [panel][CKK][NR].
    wt: usize,
    /// dy^T panels of one group: [panel][group columns][NR].
    dyt: usize,
    /// Floats after the last region: where the caller's own scratch may start.
    end: usize,
}

fn layout(g: &Geom) -> Layout {
    let (ckk, ohw, np) = (g.ckk(), g.ohw(), panels(g));
    let ncols = group_size(g) * ohw;
    let tap = 0;
    let pos = tap + ckk;
    let col = pos + ohw;
    let wt = col + ncols;
    let dyt = wt + np * ckk * NR;
    // dy^T panels, or (weights_rows) the running sums: 4 lanes of each dw element.
    let dyt_len = if np * ncols * NR > 4 * g.f * ckk { np * ncols * NR } else { 4 * g.f * ckk };
    let end = dyt + dyt_len;
    Layout { tap, pos, col, wt, dyt, end }
}

/// Floats of workspace the tables and panels take (conv.rs adds its own scratch
/// for backward-data after `scratch_start`).
pub fn workspace_len(g: &Geom) -> usize {
    layout(g).end
}

/// First float of the workspace this module does not use.
pub fn scratch_start(g: &Geom) -> usize {
    layout(g).end
}

/// Fills the tap and position tables (u32 in f32-sized slots).
unsafe fn fill_tables(g: &Geom, work: *mut f32, l: &Layout) {
    let tap = work.add(l.tap) as *mut u32;
    let mut k = 0;
    for ci in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                *tap.add(k) = (ci * g.h * g.w + ky * g.w + kx) as u32;
                k += 1;
            }
        }
    }
    let pos = work.add(l.pos) as *mut u32;
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            *pos.add(oy * g.ow + ox) = (oy * g.sh * g.w + ox * g.sw) as u32;
        }
    }
}

/// acc[i][j] = sum_{k < kc} rows[i][offs[k]] * panel[k][4j..4j+4]: RR gathered
/// rows times a k-major panel of 4*VV filters. With SEQ, row i is rows[0] + i
/// (consecutive output positions of a stride-1 row, or consecutive taps): each
/// step then computes one address and the loads take constant offsets from it.
#[inline(always)]
unsafe fn gather<const RR: usize, const VV: usize, const SEQ: bool>(
    kc: usize, rows: &[*const f32; RR], offs: *const u32, panel: *const f32,
) -> [[F4; VV]; RR] {
    let mut acc = [[F4::zero(); VV]; RR];
    let mut b = panel;
    for k in 0..kc {
        let o = *offs.add(k) as usize;
        let mut bv = [F4::zero(); VV];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = F4::load(b.add(4 * j));
        }
        let first = rows[0].add(o);
        for (i, row) in acc.iter_mut().enumerate() {
            let av = F4::load_splat(if SEQ { first.add(i) } else { rows[i].add(o) });
            for j in 0..VV {
                row[j] = row[j].madd(av, bv[j]);
            }
        }
        b = b.add(4 * VV);
    }
    acc
}

/// Where a tile's results go: element (row i, filter f) of the tile is
/// `dst[f * f_stride + i]` (for forward, dst = y_n + p0 and f_stride = OH*OW;
/// for backward-weights, dst = dw + t0 and f_stride = CKK). The tile holds
/// filters f0..f0+4*VV of which `nf` are real. `base`: the value each element
/// starts from — the bias (forward), zero or what dst holds.
#[derive(Clone, Copy)]
enum Base {
    Zero,
    Bias(*const f32),
    Dst,
}

/// Stores a tile of RR rows (rows along dst's contiguous axis, filters across
/// rows of dst), then relu if `relu` (the last k block of a fused relu).
#[inline(always)]
unsafe fn store<const RR: usize, const VV: usize>(acc: [[F4; VV]; RR], dst: *mut f32, f_stride: usize, f0: usize, nf: usize, base: Base, relu: bool) {
    if RR == 4 {
        // 4x4 transposes turn each group of 4 filters into 4 contiguous rows of 4.
        for j in 0..VV {
            let t = F4::transpose4([acc[0][j], acc[1 % RR][j], acc[2 % RR][j], acc[3 % RR][j]]);
            for (l, v) in t.iter().enumerate() {
                let f = 4 * j + l;
                if f >= nf {
                    break;
                }
                let p = dst.add(f * f_stride);
                let out = match base {
                    Base::Zero => *v,
                    Base::Bias(b) => F4::splat(*b.add(f0 + f)).add(*v),
                    Base::Dst => F4::load(p).add(*v),
                };
                if relu { out.max(F4::zero()) } else { out }.store(p);
            }
        }
        return;
    }
    if RR == 2 {
        // Lanes interleaved: each filter's two rows become one 2-lane pair.
        for j in 0..VV {
            let (lo, hi) = F4::zip(acc[0][j], acc[1 % RR][j]);
            for (l, v) in [lo, lo.high_pair(), hi, hi.high_pair()].iter().enumerate() {
                let f = 4 * j + l;
                if f >= nf {
                    break;
                }
                let p = dst.add(f * f_stride);
                let out = match base {
                    Base::Zero => *v,
                    Base::Bias(b) => F4::splat(*b.add(f0 + f)).add(*v),
                    Base::Dst => F4::load2(p).add(*v),
                };
                if relu { out.max(F4::zero()) } else { out }.store2(p);
            }
        }
        return;
    }
    let mut tile: MaybeUninit<[[[f32; 4]; VV]; RR]> = MaybeUninit::uninit();
    let t = tile.as_mut_ptr() as *mut f32;
    let w = 4 * VV;
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            v.store(t.add(i * w + 4 * j));
        }
    }
    for f in 0..nf {
        let p = dst.add(f * f_stride);
        for i in 0..RR {
            let v = *t.add(i * w + f);
            let out = match base {
                Base::Zero => v,
                Base::Bias(b) => *b.add(f0 + f) + v,
                Base::Dst => *p.add(i) + v,
            };
            // F4::max's rule, as the vector stores apply it.
            *p.add(i) = if relu && out < 0.0 { 0.0 } else { out };
        }
    }
}

/// One tile: RR gathered rows x one panel of 4*VV filters, k in blocks of KC as
/// the GEMM does (the first block starts from `first`, later ones add to dst;
/// the last one applies relu if RELU).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const RR: usize, const VV: usize, const SEQ: bool, const RELU: bool>(
    kc_total: usize, rows: &[*const f32; RR], offs: *const u32, panel: *const f32,
    dst: *mut f32, f_stride: usize, f0: usize, nf: usize, first: Base,
) {
    let mut k0 = 0;
    while k0 < kc_total {
        let kc = if kc_total - k0 < KC { kc_total - k0 } else { KC };
        let acc = gather::<RR, VV, SEQ>(kc, rows, offs.add(k0), panel.add(k0 * 4 * VV));
        store::<RR, VV>(acc, dst, f_stride, f0, nf, if k0 == 0 { first } else { Base::Dst }, RELU && k0 + kc == kc_total);
        k0 += KC;
    }
}

/// Dispatches a tile of `rows` (1..=R) rows to the kernel of that height.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_rows<const RELU: bool>(
    n_rows: usize, row_at: impl Fn(usize) -> *const f32, kc_total: usize, offs: *const u32, panel: *const f32,
    dst: *mut f32, f_stride: usize, f0: usize, nf: usize, first: Base,
) {
    macro_rules! go {
        ($rr:literal) => {{
            let mut rows = [core::ptr::null::<f32>(); $rr];
            for (i, r) in rows.iter_mut().enumerate() {
                *r = row_at(i);
            }
            tile::<$rr, V, false, RELU>(kc_total, &rows, offs, panel, dst, f_stride, f0, nf, first)
        }};
    }
    match n_rows {
        4 if R >= 4 => go!(4),
        3 if R >= 3 => go!(3),
        2 if R >= 2 => go!(2),
        _ => go!(1),
    }
}

/// Whether forward runs the row kernel: with a filter count that does not fill
/// whole panels (LeNet's conv1 has 6: a panel of 8 would idle a quarter of the
/// lanes), put 4 output positions of a row across the lanes instead, which needs
/// stride 1 along x and rows of whole vectors. With SIMD also when windows are
/// short (see ROWS_MAX_CKK), whatever the filters.
#[inline]
fn rows_forward(g: &Geom) -> bool {
    g.sw == 1 && g.ow % 4 == 0 && (g.f % NR != 0 || (cfg!(target_feature = "simd128") && g.ckk() <= ROWS_MAX_CKK))
}

/// Up to this many taps a window (an RGB image's 3x3 first layer has 27) the
/// filter tiles' k loop is too short to pay for their stores (a 2x16 tile
/// stores 16 filter rows 2 floats at a time, ohw floats apart), so forward
/// runs the row kernel (whole vectors along each filter's output row) even
/// when the filters fill the panels. Interleaved, SIMD, batch 32, 3x3 'same':
/// 27 taps, 32 filters on 64x64: 2.4x; 64 filters on 32x32: 3.0x; 16 filters:
/// 1.17x; 36 taps: 1.12x; 72-75 taps: equal; 144 taps: 0.94x, so not there.
/// The same sums in the same order.
const ROWS_MAX_CKK: usize = 80;

/// One row tile: y[f0+f][p + r*OW + 4v ..+4] (+)= sum_k w[f0+f][k] * x[base + r*xs + tap[k] + 4v ..+4]
/// for f < FF, r < RR (output rows), v < VV, k in blocks of KC. `wt` is w^T
/// [CKK][F]; dst points at y[f0][p]; xs is the input offset of the next output row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_tile<const FF: usize, const VV: usize, const RR: usize, const RELU: bool>(
    ckk: usize, f: usize, base: *const f32, xs: usize, tap: *const u32, wt: *const f32, f0: usize,
    dst: *mut f32, ds: usize, f_stride: usize, bias: *const f32,
) {
    let mut k0 = 0;
    while k0 < ckk {
        let kc = if ckk - k0 < KC { ckk - k0 } else { KC };
        let mut acc = [[[F4::zero(); VV]; RR]; FF];
        let mut wk = wt.add(k0 * f + f0);
        for k in k0..k0 + kc {
            let xk = base.add(*tap.add(k) as usize);
            let mut xv = [[F4::zero(); VV]; RR];
            for (r, xr) in xv.iter_mut().enumerate() {
                for (v, xx) in xr.iter_mut().enumerate() {
                    *xx = F4::load(xk.add(r * xs + 4 * v));
                }
            }
            for (i, fa) in acc.iter_mut().enumerate() {
                let wv = F4::load_splat(wk.add(i));
                for r in 0..RR {
                    for v in 0..VV {
                        fa[r][v] = fa[r][v].madd(wv, xv[r][v]);
                    }
                }
            }
            wk = wk.add(f);
        }
        for (i, fa) in acc.iter().enumerate() {
            for (r, ra) in fa.iter().enumerate() {
                for (v, a) in ra.iter().enumerate() {
                    let p = dst.add(i * f_stride + r * ds + 4 * v);
                    let out = if k0 > 0 {
                        F4::load(p).add(*a)
                    } else if bias.is_null() {
                        *a
                    } else {
                        F4::splat(*bias.add(f0 + i)).add(*a)
                    };
                    if RELU && k0 + kc == ckk { out.max(F4::zero()) } else { out }.store(p);
                }
            }
        }
        k0 += KC;
    }
}

/// w^T [CKK][F] for the row kernel: a tile's broadcasts sit side by side.
unsafe fn transpose_weights(g: &Geom, w: *const f32, wt: *mut f32) {
    let ckk = g.ckk();
    for k in 0..ckk {
        for f in 0..g.f {
            *wt.add(k * g.f + f) = *w.add(f * ckk + k);
        }
    }
}

/// `rows` (1 or 2) consecutive output rows of every filter of one image, the
/// first row's input at `base`, its outputs at `dst` (filter f at
/// dst + f*f_stride, the second row g.ow further on). Filters in chunks of FT,
/// the last one narrower when FT does not divide F; with SIMD, full chunks take
/// two output rows at a time (see PAIR_ROWS).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn row_block<const RELU: bool>(
    g: &Geom, rows: usize, base: *const f32, tap: *const u32, wt: *const f32, bias: *const f32, dst: *mut f32, f_stride: usize,
) {
    let xs = g.sh * g.w;
    let mut f0 = 0;
    while f0 < g.f {
        let ff = if g.f - f0 < FT { g.f - f0 } else { FT };
        let r = RowRun { ckk: g.ckk(), f: g.f, ow: g.ow, base, tap, wt, f0, dst: dst.add(f0 * f_stride), f_stride, bias };
        if PAIR_ROWS && rows == 2 && ff == FT {
            row_run_pair::<FT, RELU>(&r, xs);
        } else {
            for i in 0..rows {
                let r = RowRun { base: r.base.add(i * xs), dst: r.dst.add(i * g.ow), ..r };
                match ff {
                    1 => row_run::<1, { row_vectors(1) }, RELU>(&r),
                    2 if FT >= 2 => row_run::<2, { row_vectors(2) }, RELU>(&r),
                    3 if FT >= 3 => row_run::<3, { row_vectors(3) }, RELU>(&r),
                    _ => row_run::<FT, RV, RELU>(&r),
                }
            }
        }
        f0 += ff;
    }
}

/// Forward with the row kernel (see `rows_forward`).
#[allow(clippy::too_many_arguments)]
unsafe fn forward_rows<const RELU: bool>(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, l: &Layout) {
    let (ohw, chw) = (g.ohw(), g.c * g.h * g.w);
    let tap = work.add(l.tap) as *const u32;
    let wt = work.add(l.wt);
    transpose_weights(g, w, wt);
    let xs = g.sh * g.w;
    for n in 0..g.n {
        let (xn, yn) = (x.add(n * chw), y.add(n * g.f * ohw));
        let mut oy = 0;
        while oy < g.oh {
            let rows = if PAIR_ROWS && g.oh - oy >= 2 { 2 } else { 1 };
            row_block::<RELU>(g, rows, xn.add(oy * xs), tap, wt, bias, yn.add(oy * g.ow), ohw);
            oy += rows;
        }
    }
}

/// Whether `forward_pool2` applies: the row kernel's geometry and at least 2x2 outputs.
pub fn pool2_applies(g: &Geom) -> bool {
    applies(g) && rows_forward(g) && g.oh >= 2 && g.ow >= 2
}

/// Floats of workspace `forward_pool2` needs: the tables and panels, then two
/// output rows of every filter.
pub fn pool2_workspace_len(g: &Geom) -> usize {
    workspace_len(g) + 2 * g.ow * g.f
}

/// Inference: y [N, F, OH/2, OW/2] = 2x2 max pooling (stride 2) of
/// conv(x, w) + bias, relu if `relu`, two conv rows at a time into the
/// workspace (in L1), pooled from there: the conv output is never written out.
/// The same bits as forward and then max pooling (same sums; a max is exact).
pub unsafe fn forward_pool2(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, relu: bool) {
    if relu {
        forward_pool2_with::<true>(g, x, w, bias, y, work)
    } else {
        forward_pool2_with::<false>(g, x, w, bias, y, work)
    }
}

#[inline(never)]
unsafe fn forward_pool2_with<const RELU: bool>(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32) {
    let l = layout(g);
    fill_tables(g, work, &l);
    let tap = work.add(l.tap) as *const u32;
    let wt = work.add(l.wt);
    transpose_weights(g, w, wt);
    let rows2 = work.add(l.end);
    let (chw, xs, ow2) = (g.c * g.h * g.w, g.sh * g.w, 2 * g.ow);
    let (ph, pw) = (g.oh / 2, g.ow / 2);
    for n in 0..g.n {
        let xn = x.add(n * chw);
        for py in 0..ph {
            row_block::<RELU>(g, 2, xn.add(2 * py * xs), tap, wt, bias, rows2, ow2);
            for f in 0..g.f {
                let r0 = rows2.add(f * ow2);
                crate::pool::max_2x2_rows(r0, r0.add(g.ow), y.add(((n * g.f + f) * ph + py) * pw), pw);
            }
        }
    }
}

/// With SIMD, a full chunk of FT filters runs two output rows at a time in
/// FT x (2 rows x 1 vector) tiles: the same 8 accumulators as FT x 2 vectors,
/// but rows of any multiple of 4 split into whole tiles (LeNet's conv1: 7
/// vectors a row, which FT x 2 tiles covered with a 1-vector remainder tile).
/// Without SIMD the 2 x 1 tiles have no remainder.
const PAIR_ROWS: bool = cfg!(target_feature = "simd128");

/// Two output rows (`r` the first; `xs` floats on to the next one's input)
/// of one full chunk: FT x (2 x 1 vector) tiles along the rows.
#[inline(never)]
unsafe fn row_run_pair<const FF: usize, const RELU: bool>(r: &RowRun, xs: usize) {
    let mut ox = 0;
    while ox < r.ow {
        row_tile::<FF, 1, 2, RELU>(r.ckk, r.f, r.base.add(ox), xs, r.tap, r.wt, r.f0, r.dst.add(ox), r.ow, r.f_stride, r.bias);
        ox += 4;
    }
}

/// One output row of one chunk of filters for the row kernel.
#[derive(Clone, Copy)]
struct RowRun {
    ckk: usize,
    f: usize,
    ow: usize,
    base: *const f32,
    tap: *const u32,
    wt: *const f32,
    f0: usize,
    dst: *mut f32,
    f_stride: usize,
    bias: *const f32,
}

/// Runs the row kernel along one output row: tiles of VV vectors, then one
/// tile of the vectors left. A function of its own per chunk width: with every
/// tile shape inlined into one function, V8 kept loop variables on the stack.
#[inline(never)]
unsafe fn row_run<const FF: usize, const VV: usize, const RELU: bool>(r: &RowRun) {
    let mut ox = 0;
    while ox + 4 * VV <= r.ow {
        row_tile::<FF, VV, 1, RELU>(r.ckk, r.f, r.base.add(ox), 0, r.tap, r.wt, r.f0, r.dst.add(ox), 0, r.f_stride, r.bias);
        ox += 4 * VV;
    }
    let (base, dst) = (r.base.add(ox), r.dst.add(ox));
    match (r.ow - ox) / 4 {
        0 => {}
        1 => row_tile::<FF, 1, 1, RELU>(r.ckk, r.f, base, 0, r.tap, r.wt, r.f0, dst, 0, r.f_stride, r.bias),
        2 if VV > 2 => row_tile::<FF, 2, 1, RELU>(r.ckk, r.f, base, 0, r.tap, r.wt, r.f0, dst, 0, r.f_stride, r.bias),
        _ if VV > 3 => row_tile::<FF, 3, 1, RELU>(r.ckk, r.f, base, 0, r.tap, r.wt, r.f0, dst, 0, r.f_stride, r.bias),
        _ => {}
    }
}

/// y = conv(x, w) + bias (bias may be null), relu if `relu`; `work` holds
/// workspace_len(g) floats. With relu the kernels are separate instances
/// (RELU = true), so that the plain ones stay as they were.
pub unsafe fn forward(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, relu: bool) {
    if relu {
        forward_with::<true>(g, x, w, bias, y, work)
    } else {
        forward_with::<false>(g, x, w, bias, y, work)
    }
}

#[inline(never)]
unsafe fn forward_with<const RELU: bool>(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32) {
    let l = layout(g);
    fill_tables(g, work, &l);
    if rows_forward(g) {
        return forward_rows::<RELU>(g, x, w, bias, y, work, &l);
    }
    if wide(g) {
        return forward_wide::<RELU>(g, x, w, bias, y, work, &l);
    }
    let (ckk, ohw, chw) = (g.ckk(), g.ohw(), g.c * g.h * g.w);
    let (tap, pos) = (work.add(l.tap) as *const u32, work.add(l.pos) as *const u32);
    // w^T panels: wt[q][k][lane] = w[q*NR + lane][k], zero for padding filters.
    let wt = work.add(l.wt);
    for q in 0..panels(g) {
        for k in 0..ckk {
            for lane in 0..NR {
                let f = q * NR + lane;
                *wt.add((q * ckk + k) * NR + lane) = if f < g.f { *w.add(f * ckk + k) } else { 0.0 };
            }
        }
    }
    let first = if bias.is_null() { Base::Zero } else { Base::Bias(bias) };
    for n in 0..g.n {
        let xn = x.add(n * chw);
        let yn = y.add(n * g.f * ohw);
        let mut p0 = 0;
        while p0 < ohw {
            let n_rows = if ohw - p0 < R { ohw - p0 } else { R };
            for q in 0..panels(g) {
                let f0 = q * NR;
                let nf = if g.f - f0 < NR { g.f - f0 } else { NR };
                tile_rows::<RELU>(
                    n_rows, |i| xn.add(*pos.add(p0 + i) as usize), ckk, tap, wt.add(q * ckk * NR),
                    yn.add(f0 * ohw + p0), ohw, f0, nf, first,
                );
            }
            p0 += R;
        }
    }
}

/// Filters per wide panel: 2 rows x 16 filters (4 vectors) per tile.
const WIDE_NR: usize = 16;

/// Whether the filters fill 16-lane panels (SIMD build): then a tile is 2 rows
/// x 16 filters (8 accumulators + 4 panel vectors + 1 broadcast, as the GEMM's
/// direct 2x16 tile) rather than 4 x 8: half the broadcasts per multiply-add,
/// and rows in pairs, which for consecutive positions or taps share one address
/// per step. LeNet's conv2 (16 filters) forward, microbenchmark: 1.12-1.19x.
#[inline]
fn wide(g: &Geom) -> bool {
    cfg!(target_feature = "simd128") && g.f % WIDE_NR == 0
}

/// Forward with 2 x 16 tiles (see `wide`); the same sums as `forward`'s tiles.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn forward_wide<const RELU: bool>(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, l: &Layout) {
    let (ckk, ohw, chw) = (g.ckk(), g.ohw(), g.c * g.h * g.w);
    let (tap, pos) = (work.add(l.tap) as *const u32, work.add(l.pos) as *const u32);
    // w^T panels of 16 filters: wt[q][k][lane] = w[q*16 + lane][k].
    let wt = work.add(l.wt);
    let np = g.f / WIDE_NR;
    for q in 0..np {
        for k in 0..ckk {
            for lane in 0..WIDE_NR {
                *wt.add((q * ckk + k) * WIDE_NR + lane) = *w.add((q * WIDE_NR + lane) * ckk + k);
            }
        }
    }
    let first = if bias.is_null() { Base::Zero } else { Base::Bias(bias) };
    const VW: usize = WIDE_NR / 4;
    for n in 0..g.n {
        let xn = x.add(n * chw);
        let yn = y.add(n * g.f * ohw);
        let mut p0 = 0;
        while p0 < ohw {
            let a = xn.add(*pos.add(p0) as usize);
            for q in 0..np {
                let (f0, panel) = (q * WIDE_NR, wt.add(q * ckk * WIDE_NR));
                let dst = yn.add(f0 * ohw + p0);
                if ohw - p0 == 1 {
                    tile::<1, VW, false, RELU>(ckk, &[a], tap, panel, dst, ohw, f0, WIDE_NR, first);
                } else if *pos.add(p0 + 1) == *pos.add(p0) + 1 {
                    tile::<2, VW, true, RELU>(ckk, &[a, a], tap, panel, dst, ohw, f0, WIDE_NR, first);
                } else {
                    let b = xn.add(*pos.add(p0 + 1) as usize);
                    tile::<2, VW, false, RELU>(ckk, &[a, b], tap, panel, dst, ohw, f0, WIDE_NR, first);
                }
            }
            p0 += 2;
        }
    }
}

/// Backward-weights row tiles: WF filters x WT taps, with 4 output positions
/// across the lanes (8 accumulators + 2 dy vectors + 1 x vector).
const WF: usize = 2;
const WT: usize = 4;

/// Whether backward-weights runs the row kernel (`weights_rows`): with SIMD, as
/// for forward (`rows_forward`), a filter count that does not fill the 8-wide
/// panels (LeNet's conv1: 6 of 8 lanes), stride 1 along x and rows of whole
/// vectors. LeNet's conv1 weight gradient: 1.26x (SIMD build, interleaved A/B).
/// Not in the scalar build, whose 2x4 tiles on packed panels load fewer values
/// per multiply-add than four scalar lanes would (the row kernel ran 0.62x
/// there): its conv1 weight gradient keeps the im2col + GEMM order, so its bits
/// differ from the SIMD build's for such layers.
#[inline]
fn rows_weights(g: &Geom) -> bool {
    cfg!(target_feature = "simd128") && g.sw == 1 && g.ow % 4 == 0 && g.f % NR != 0
}

/// dw [F, CKK] with 4 output positions across the lanes instead of filters:
/// a[f][t] += x_n[pos + tap[t] ..+4] * dy_n[f][p ..+4] over the vectors of an
/// image in order, each image's sums added to the running ones in image order;
/// each lane sums the positions p = lane (mod 4), and the four lanes are added
/// at the end ((0+1)+(2+3)). The order depends on the
/// shapes alone (any worker count gives the same bits), not the im2col + GEMM
/// route's. Nothing is packed: dy and x are read in place, an image at a time
/// through every tile (they stay in L1), the running sums kept in `acc`
/// (4 * F * CKK floats) between images.
#[inline(never)]
unsafe fn weights_rows(g: &Geom, x: *const f32, dy: *const f32, dw: *mut f32, tap: *const u32, acc: *mut f32) {
    let (ckk, ohw, chw) = (g.ckk(), g.ohw(), g.c * g.h * g.w);
    for i in 0..4 * g.f * ckk {
        *acc.add(i) = 0.0;
    }
    for n in 0..g.n {
        let (xn, dn) = (x.add(n * chw), dy.add(n * g.f * ohw));
        let mut f0 = 0;
        while f0 < g.f {
            let ff = if g.f - f0 < WF { g.f - f0 } else { WF };
            let mut t0 = 0;
            while t0 < ckk {
                let tt = if ckk - t0 < WT { ckk - t0 } else { WT };
                let (d, a) = (dn.add(f0 * ohw), acc.add(4 * (f0 * ckk + t0)));
                let t = tap.add(t0);
                match (ff, tt) {
                    (2, 4) if WF >= 2 && WT >= 4 => weights_row_tile::<2, 4>(g, xn, d, t, a),
                    (2, 3) if WF >= 2 && WT >= 3 => weights_row_tile::<2, 3>(g, xn, d, t, a),
                    (2, 2) if WF >= 2 => weights_row_tile::<2, 2>(g, xn, d, t, a),
                    (2, _) if WF >= 2 => weights_row_tile::<2, 1>(g, xn, d, t, a),
                    (_, 4) if WT >= 4 => weights_row_tile::<1, 4>(g, xn, d, t, a),
                    (_, 3) if WT >= 3 => weights_row_tile::<1, 3>(g, xn, d, t, a),
                    (_, 2) if WT >= 2 => weights_row_tile::<1, 2>(g, xn, d, t, a),
                    _ => weights_row_tile::<1, 1>(g, xn, d, t, a),
                }
                t0 += tt;
            }
            f0 += ff;
        }
    }
    for i in 0..g.f * ckk {
        *dw.add(i) = F4::load(acc.add(4 * i)).hsum();
    }
}

/// One image's share of one tile of `weights_rows`: FF filters (dy rows `dy`,
/// `dy + OHW`..) x TT taps (`tap[0..TT]`); the running sum of filter i, tap t
/// at acc + 4*(i*CKK + t).
#[inline(always)]
unsafe fn weights_row_tile<const FF: usize, const TT: usize>(g: &Geom, x: *const f32, dy: *const f32, tap: *const u32, acc: *mut f32) {
    let (ckk, ohw, xs) = (g.ckk(), g.ohw(), g.sh * g.w);
    // This image's sums start from zero and are added to the running ones at the
    // end: sums of 196 products a lane, then of images, rather than one chain
    // over the batch (as the GEMM route sums blocks of KC; 4x closer to float64).
    let mut a = [[F4::zero(); TT]; FF];
    let mut xt = [x; TT];
    for (t, p) in xt.iter_mut().enumerate() {
        *p = x.add(*tap.add(t) as usize);
    }
    let mut d = dy;
    for _ in 0..g.oh {
        let mut v = 0;
        while v < g.ow {
            let mut dv = [F4::zero(); FF];
            for (i, e) in dv.iter_mut().enumerate() {
                *e = F4::load(d.add(i * ohw + v));
            }
            for t in 0..TT {
                let xv = F4::load(xt[t].add(v));
                for i in 0..FF {
                    a[i][t] = a[i][t].madd(xv, dv[i]);
                }
            }
            v += 4;
        }
        d = d.add(g.ow);
        for p in xt.iter_mut() {
            *p = p.add(xs);
        }
    }
    for (i, ai) in a.iter().enumerate() {
        for (t, v) in ai.iter().enumerate() {
            let p = acc.add(4 * (i * ckk + t));
            F4::load(p).add(*v).store(p);
        }
    }
}

/// dw [F, CKK] = sum over the batch of dy x im2col(x)^T, overwritten, and the
/// bias gradient (`conv_geom::bias_grad`) unless `dbias` is null, each group's while
/// its dy is in cache for packing. `work` holds workspace_len(g) floats.
#[inline(never)]
pub unsafe fn backward_weights(g: &Geom, x: *const f32, dy: *const f32, dw: *mut f32, dbias: *mut f32, work: *mut f32) {
    let l = layout(g);
    fill_tables(g, work, &l);
    let (ckk, ohw, chw) = (g.ckk(), g.ohw(), g.c * g.h * g.w);
    let (tap, pos) = (work.add(l.tap) as *const u32, work.add(l.pos) as *const u32);
    let col = work.add(l.col) as *mut u32;
    let dyt = work.add(l.dyt);
    if rows_weights(g) {
        if !dbias.is_null() {
            bias_grad(g, dy, 0, g.n, dbias);
        }
        weights_rows(g, x, dy, dw, tap, dyt);
        return;
    }
    let gs = group_size(g);
    let np = panels(g);
    // Columns of a group: image i's position p is column i*OHW + p (the same
    // table serves every group; a short last group uses its start).
    for i in 0..gs.min(g.n) {
        for p in 0..ohw {
            *col.add(i * ohw + p) = (i * chw) as u32 + *pos.add(p);
        }
    }
    let mut n0 = 0;
    while n0 < g.n {
        let gn = if g.n - n0 < gs { g.n - n0 } else { gs };
        let ncols = gn * ohw;
        if !dbias.is_null() {
            bias_grad(g, dy, n0, gn, dbias);
        }
        let x0 = x.add(n0 * chw);
        if wide(g) {
            pack_dy_t::<{ WIDE_NR / 4 }>(g, dy.add(n0 * g.f * ohw), gn, dyt);
            weights_wide(g, x0, tap, col, ncols, dyt, dw, n0 == 0);
            n0 += gn;
            continue;
        }
        pack_dy_t::<V>(g, dy.add(n0 * g.f * ohw), gn, dyt);
        // A block of KC columns at a time through every tile, so that the block
        // of each panel stays in L1 (every dw element still gets its blocks in order).
        let mut k0 = 0;
        while k0 < ncols {
            let kc = if ncols - k0 < KC { ncols - k0 } else { KC };
            let first = if n0 == 0 && k0 == 0 { Base::Zero } else { Base::Dst };
            for q in 0..np {
                let f0 = q * NR;
                let nf = if g.f - f0 < NR { g.f - f0 } else { NR };
                let mut t0 = 0;
                while t0 < ckk {
                    let n_rows = if ckk - t0 < R { ckk - t0 } else { R };
                    tile_rows::<false>(
                        n_rows, |i| x0.add(*tap.add(t0 + i) as usize), kc, col.add(k0), dyt.add((q * ncols + k0) * NR),
                        dw.add(f0 * ckk + t0), ckk, f0, nf, first,
                    );
                    t0 += R;
                }
            }
            k0 += KC;
        }
        n0 += gn;
    }
}

/// One group's share of dw with 2 x 16 tiles (see `wide`): taps in pairs (one
/// address per step for adjacent taps), `dyt` packed 16 filters wide. The same
/// blocks in the same order as `backward_weights`' 4 x 8 tiles.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn weights_wide(g: &Geom, x0: *const f32, tap: *const u32, col: *const u32, ncols: usize, dyt: *const f32, dw: *mut f32, first_group: bool) {
    const VW: usize = WIDE_NR / 4;
    let ckk = g.ckk();
    let mut k0 = 0;
    while k0 < ncols {
        let kc = if ncols - k0 < KC { ncols - k0 } else { KC };
        let first = if first_group && k0 == 0 { Base::Zero } else { Base::Dst };
        for q in 0..g.f / WIDE_NR {
            let (f0, panel) = (q * WIDE_NR, dyt.add((q * ncols + k0) * WIDE_NR));
            let offs = col.add(k0);
            let mut t0 = 0;
            while t0 < ckk {
                let a = x0.add(*tap.add(t0) as usize);
                let dst = dw.add(f0 * ckk + t0);
                if ckk - t0 == 1 {
                    tile::<1, VW, false, false>(kc, &[a], offs, panel, dst, ckk, f0, WIDE_NR, first);
                } else if *tap.add(t0 + 1) == *tap.add(t0) + 1 {
                    tile::<2, VW, true, false>(kc, &[a, a], offs, panel, dst, ckk, f0, WIDE_NR, first);
                } else {
                    let b = x0.add(*tap.add(t0 + 1) as usize);
                    tile::<2, VW, false, false>(kc, &[a, b], offs, panel, dst, ckk, f0, WIDE_NR, first);
                }
                t0 += 2;
            }
        }
        k0 += KC;
    }
}

/// dy of `gn` images [gn][F][OHW] -> panels of W = 4*VW filters:
/// [q][i*OHW + p][lane] = dy[i][q*W + lane][p] (zero for padding filters),
/// four filters x four positions per 4x4 transpose.
unsafe fn pack_dy_t<const VW: usize>(g: &Geom, dy: *const f32, gn: usize, dyt: *mut f32) {
    let ohw = g.ohw();
    let ncols = gn * ohw;
    let w = 4 * VW;
    for q in 0..(g.f + w - 1) / w {
        let panel = dyt.add(q * ncols * w);
        for i in 0..gn {
            let img = dy.add(i * g.f * ohw);
            for v in 0..VW {
                let f0 = q * w + 4 * v;
                // Filters f0.. that exist (the rest of the lanes are zero): the
                // count picks a loop with no per-step test.
                let real = if g.f > f0 { (g.f - f0).min(4) } else { 0 };
                let (src, dst) = (img.add(f0.min(g.f) * ohw), panel.add(i * ohw * w + 4 * v));
                match real {
                    4 => pack_lanes::<4>(src, ohw, dst, w),
                    3 => pack_lanes::<3>(src, ohw, dst, w),
                    2 => pack_lanes::<2>(src, ohw, dst, w),
                    1 => pack_lanes::<1>(src, ohw, dst, w),
                    _ => pack_lanes::<0>(src, ohw, dst, w),
                }
            }
        }
    }
}

/// dst[p*w + l] = src[l*ohw + p] for l < L, zero for L <= l < 4, p < ohw: four
/// filters of one image into four lanes of a panel, four positions per 4x4 transpose.
#[inline(always)]
unsafe fn pack_lanes<const L: usize>(src: *const f32, ohw: usize, dst: *mut f32, w: usize) {
    let zero = F4::zero();
    let mut p = 0;
    while p + 4 <= ohw {
        let mut r = [zero; 4];
        for (l, row) in r.iter_mut().enumerate().take(L) {
            *row = F4::load(src.add(l * ohw + p));
        }
        let t = F4::transpose4(r);
        for (pp, tv) in t.iter().enumerate() {
            tv.store(dst.add((p + pp) * w));
        }
        p += 4;
    }
    for p in p..ohw {
        for l in 0..4 {
            *dst.add(p * w + l) = if l < L { *src.add(l * ohw + p) } else { 0.0 };
        }
    }
}
