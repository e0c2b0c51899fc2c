//! 2-D convolution (cross-correlation, as in every DL framework), NCHW, f32.
//!
//! Shapes: x [N, C, H, W], w [F, C, KH, KW] (= F x CKK row-major, CKK = C*KH*KW),
//! bias [F], y [N, F, OH, OW]. Padding: `ph`/`pw` rows/cols of zeros on the top/left;
//! the bottom/right padding is whatever `oh`/`ow` imply (TypeScript computes them),
//! so 'same' with an odd total pad works unchanged.
//!
//! Images go through im2col into `cols` [CKK, G*OH*OW] (a workspace the caller
//! owns) and one GEMM per group of G images; G is 1 unless the output is small
//! (LeNet's conv3 has OH*OW = 1), when images are batched until a GEMM has
//! TARGET_COLUMNS columns:
//!   forward:          y[g]  = w (F x CKK) . cols (CKK x G*OHW)
//!   backward-weights: dw   += dy[g] (F x G*OHW) . cols^T (G*OHW x CKK)
//!   backward-data:    dcols = w^T (CKK x F) . dy[g] (F x G*OHW);  dx = col2im(dcols)
//! A training forward may keep every group's im2col matrix (`keep`) so that the
//! backward pass reuses them instead of recomputing.
//!
//! Unpadded convolutions (LeNet's conv1 and conv2) run forward and
//! backward-weights as implicit GEMMs over x (conv_implicit.rs: no im2col
//! matrix), with the same sums in the same order as that route (except the
//! row kernel's weight gradient: see conv_implicit::rows_weights); their
//! backward-data is the GEMM + col2im below. Padded ones whose zero-padded
//! input the implicit route can read (see `padded`) copy x into the workspace
//! with its zeros (an input-sized pass, where im2col writes C*KH*KW times the
//! output) and run the same way. The im2col route serves the rest. A
//! convolution whose window covers the whole input (conv3) is a dense layer:
//! one GEMM per pass.

use crate::conv_geom::{bias_grad, group_size, Geom};
use crate::conv_implicit;
use crate::gemm::{sgemm, sgemm_epilogue};
use crate::simd::F4;

/// Output positions `o` in 0..out for which `o*stride - pad + k` lies inside 0..size:
/// returns the half-open range [lo, hi). Lets the im2col loops run branch-free.
#[inline]
fn valid_range(out: usize, stride: usize, pad: usize, k: usize, size: usize) -> (usize, usize) {
    // need o*stride + k >= pad  and  o*stride + k < size + pad
    let lo = if pad > k { (pad - k + stride - 1) / stride } else { 0 };
    let hi = if size + pad > k { (size + pad - k + stride - 1) / stride } else { 0 };
    let hi = if hi < out { hi } else { out };
    (if lo < hi { lo } else { hi }, hi)
}

/// Stride 1 and every window inside the input (no padding on any side, which
/// also rules out the bottom/right padding that oh/ow may imply): im2col rows
/// are then plain 2-D windows of the input.
#[inline]
fn windows_inside(g: &Geom) -> bool {
    g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh + g.kh <= g.h + 1 && g.ow + g.kw <= g.w + 1
}

/// dst[i] = src[i] for i < n, four lanes at a time (short rows: no memcpy call),
/// then two, then one: rows here are short (LeNet's conv2 output rows are 10).
#[inline(always)]
unsafe fn copy(src: *const f32, dst: *mut f32, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        F4::load(src.add(i)).store(dst.add(i));
        i += 4;
    }
    if i + 2 <= n {
        F4::load2(src.add(i)).store2(dst.add(i));
        i += 2;
    }
    if i < n {
        *dst.add(i) = *src.add(i);
    }
}

/// dst[i] += src[i] for i < n (lanes of 4, then 2, then 1, as `copy`).
#[inline(always)]
unsafe fn add_into(src: *const f32, dst: *mut f32, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        F4::load(dst.add(i)).add(F4::load(src.add(i))).store(dst.add(i));
        i += 4;
    }
    if i + 2 <= n {
        F4::load2(dst.add(i)).add(F4::load2(src.add(i))).store2(dst.add(i));
        i += 2;
    }
    if i < n {
        *dst.add(i) += *src.add(i);
    }
}

/// cols[(ci*KH + ky)*KW + kx][oy*OW + ox] = x[ci][oy*sh - ph + ky][ox*sw - pw + kx] (0 outside),
/// row r of cols starting at `cols + r*ld` (ld >= OH*OW lets images sit side by side).
pub unsafe fn im2col(g: &Geom, x: *const f32, cols: *mut f32, ld: usize) {
    if windows_inside(g) {
        for ci in 0..g.c {
            let plane = x.add(ci * g.h * g.w);
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let row = cols.add(((ci * g.kh + ky) * g.kw + kx) * ld);
                    let src = plane.add(ky * g.w + kx);
                    for oy in 0..g.oh {
                        copy(src.add(oy * g.w), row.add(oy * g.ow), g.ow);
                    }
                }
            }
        }
        return;
    }
    for ci in 0..g.c {
        let plane = x.add(ci * g.h * g.w);
        for ky in 0..g.kh {
            let (oy_lo, oy_hi) = valid_range(g.oh, g.sh, g.ph, ky, g.h);
            for kx in 0..g.kw {
                let (ox_lo, ox_hi) = valid_range(g.ow, g.sw, g.pw, kx, g.w);
                let row = cols.add(((ci * g.kh + ky) * g.kw + kx) * ld);
                for oy in 0..g.oh {
                    let dst = row.add(oy * g.ow);
                    if oy < oy_lo || oy >= oy_hi {
                        for ox in 0..g.ow {
                            *dst.add(ox) = 0.0;
                        }
                        continue;
                    }
                    let src = plane.add((oy * g.sh + ky - g.ph) * g.w);
                    for ox in 0..ox_lo {
                        *dst.add(ox) = 0.0;
                    }
                    if g.sw == 1 {
                        copy(src.add(ox_lo + kx - g.pw), dst.add(ox_lo), ox_hi - ox_lo);
                    } else {
                        for ox in ox_lo..ox_hi {
                            *dst.add(ox) = *src.add(ox * g.sw + kx - g.pw);
                        }
                    }
                    for ox in ox_hi..g.ow {
                        *dst.add(ox) = 0.0;
                    }
                }
            }
        }
    }
}

/// The adjoint of im2col: dx[ci][iy][ix] += every dcols entry im2col read from there
/// (row r of dcols at `dcols + r*ld`). dx must be zeroed (or hold a gradient to add to).
pub unsafe fn col2im(g: &Geom, dcols: *const f32, ld: usize, dx: *mut f32) {
    if windows_inside(g) {
        // Output rows are short (LeNet's conv2: 10), so the row length is made a
        // constant for the common widths: each row is then straight-line code.
        macro_rules! widths {
            ($($n:literal)*) => {
                match g.ow {
                    $($n => col2im_windows(g, dcols, ld, dx, |src, dst, _| add_into(src, dst, $n)),)*
                    _ => col2im_windows(g, dcols, ld, dx, |src, dst, n| add_into(src, dst, n)),
                }
            };
        }
        widths!(4 5 6 7 8 9 10 11 12 13 14 15 16);
        return;
    }
    for ci in 0..g.c {
        let plane = dx.add(ci * g.h * g.w);
        for ky in 0..g.kh {
            let (oy_lo, oy_hi) = valid_range(g.oh, g.sh, g.ph, ky, g.h);
            for kx in 0..g.kw {
                let (ox_lo, ox_hi) = valid_range(g.ow, g.sw, g.pw, kx, g.w);
                let row = dcols.add(((ci * g.kh + ky) * g.kw + kx) * ld);
                for oy in oy_lo..oy_hi {
                    let src = row.add(oy * g.ow);
                    let dst = plane.add((oy * g.sh + ky - g.ph) * g.w);
                    if g.sw == 1 {
                        add_into(src.add(ox_lo), dst.add(ox_lo + kx - g.pw), ox_hi - ox_lo);
                    } else {
                        for ox in ox_lo..ox_hi {
                            *dst.add(ox * g.sw + kx - g.pw) += *src.add(ox);
                        }
                    }
                }
            }
        }
    }
}

/// col2im when every window lies inside the input: row (ci, ky, kx) of dcols
/// adds into dx at (ky, kx) of plane ci, OW floats per output row.
#[inline(always)]
unsafe fn col2im_windows(g: &Geom, dcols: *const f32, ld: usize, dx: *mut f32, add_row: impl Fn(*const f32, *mut f32, usize)) {
    for ci in 0..g.c {
        let plane = dx.add(ci * g.h * g.w);
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let row = dcols.add(((ci * g.kh + ky) * g.kw + kx) * ld);
                let dst = plane.add(ky * g.w + kx);
                for oy in 0..g.oh {
                    add_row(row.add(oy * g.ow), dst.add(oy * g.w), g.ow);
                }
            }
        }
    }
}

/// Whether im2col would be the identity (1x1 kernel, stride 1, no padding): then
/// the input plane is used as `cols` directly.
#[inline]
fn cols_are_input(g: &Geom) -> bool {
    g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.h && g.ow == g.w
}

/// The window covers the whole unpadded input (LeNet's conv3: 5x5 on 5x5), so
/// the layer is a dense layer on x viewed as [N, C*H*W] (whose index order is
/// the kernel's): no im2col, one GEMM per pass, outputs already in NCHW order.
/// Each output sums the same products in the same order as the im2col route.
#[inline]
fn dense_like(g: &Geom) -> bool {
    g.oh == 1 && g.ow == 1 && g.ph == 0 && g.pw == 0 && g.kh == g.h && g.kw == g.w
}

/// The geometry of x zero-padded to exactly the rows and columns the windows
/// cover, for a padded convolution the implicit route can then read (any
/// stride, not 1x1, not a dense layer in disguise); None for unpadded ones and
/// where the implicit route would not apply. deep4's 'same' convolutions
/// (4-16 filters, 3x3 and 5x5): the im2col route ran them at 17-33% of the
/// multiply-add peak.
fn padded(g: &Geom) -> Option<Geom> {
    if conv_implicit::applies(g) || dense_like(g) || cols_are_input(g) {
        return None;
    }
    let gp = Geom { h: (g.oh - 1) * g.sh + g.kh, w: (g.ow - 1) * g.sw + g.kw, ph: 0, pw: 0, ..*g };
    if conv_implicit::applies(&gp) { Some(gp) } else { None }
}

/// Floats of the padded copy of x.
#[inline]
fn padded_len(gp: &Geom) -> usize {
    gp.n * gp.c * gp.h * gp.w
}

/// xp [N, C, gp.h, gp.w] = x with g's padding: xp[..][y][x] = x[..][y - ph][x - pw]
/// inside x, 0 elsewhere (the bottom/right rows and columns gp covers past x too).
unsafe fn pad_input(g: &Geom, gp: &Geom, x: *const f32, xp: *mut f32) {
    let (lo_x, hi_x) = (g.pw, (g.pw + g.w).min(gp.w)); // xp columns holding x
    for plane in 0..g.n * g.c {
        let src = x.add(plane * g.h * g.w);
        let dst = xp.add(plane * gp.h * gp.w);
        for y in 0..gp.h {
            let row = dst.add(y * gp.w);
            if y < g.ph || y - g.ph >= g.h || lo_x >= hi_x {
                crate::act::fill(row, gp.w, 0.0);
                continue;
            }
            crate::act::fill(row, lo_x, 0.0);
            copy(src.add((y - g.ph) * g.w), row.add(lo_x), hi_x - lo_x);
            crate::act::fill(row.add(hi_x), gp.w - hi_x, 0.0);
        }
    }
}

/// The input gradient of a stride-1 convolution padded at least as much as
/// 'same' (2*ph >= kh-1, ph < kh, likewise along x) as a convolution itself:
///   dx[n][c][y][x] = sum over f, ky, kx of dy[n][f][y - ph' + ky][x - pw' + kx]
///                    * w[f][c][kh-1-ky][kw-1-kx],  ph' = kh-1-ph, pw' = kw-1-pw,
/// dy padded by ph' x pw' (no more zeros than x's own padding) and the kernel
/// flipped with filters and channels swapped: the geometry of that
/// convolution (dy as input, C filters, output H x W) and of dy padded for
/// it (see `padded`). None elsewhere: an
/// unpadded convolution's dy would need the full kh-1 of zeros on every side
/// (twice as many multiplications by zero as products for LeNet's conv2).
fn data_as_conv(g: &Geom) -> Option<(Geom, Geom)> {
    if g.sh != 1 || g.sw != 1 || g.ph >= g.kh || g.pw >= g.kw || 2 * g.ph + 1 < g.kh || 2 * g.pw + 1 < g.kw {
        return None;
    }
    let g2 = Geom { c: g.f, h: g.oh, w: g.ow, f: g.c, ph: g.kh - 1 - g.ph, pw: g.kw - 1 - g.pw, oh: g.h, ow: g.w, ..*g };
    padded(&g2).map(|g2p| (g2, g2p))
}

/// Floats `backward_data_conv` needs for (g2, g2p) = data_as_conv(g): dy
/// padded, the flipped kernel, the implicit route's workspace.
fn data_conv_len(g2: &Geom, g2p: &Geom) -> usize {
    padded_len(g2p) + g2.f * g2.ckk() + conv_implicit::workspace_len(g2p)
}

/// dx = the convolution `data_as_conv` describes (overwritten), through the
/// padded implicit route; `scratch` holds data_conv_len floats. Each dx
/// element sums over (f, ky, kx) in that order: not col2im's order, so these
/// bits differ from the GEMM + col2im route's.
unsafe fn backward_data_conv(g2: &Geom, g2p: &Geom, w: *const f32, dy: *const f32, dx: *mut f32, scratch: *mut f32) {
    let (kh, kw) = (g2.kh, g2.kw);
    let dyp = scratch;
    pad_input(g2, g2p, dy, dyp);
    // w2[c][f][ky][kx] = w[f][c][kh-1-ky][kw-1-kx]  (w is [F][C][KH][KW], g2.c = F, g2.f = C)
    let w2 = scratch.add(padded_len(g2p));
    for ci in 0..g2.f {
        for fi in 0..g2.c {
            let src = w.add((fi * g2.f + ci) * kh * kw);
            let dst = w2.add((ci * g2.c + fi) * kh * kw);
            for t in 0..kh * kw {
                *dst.add(t) = *src.add(kh * kw - 1 - t);
            }
        }
    }
    conv_implicit::forward(g2p, dyp, w2, core::ptr::null(), dx, w2.add(g2.f * g2.ckk()), false);
}

/// Floats of workspace `forward_pool2` needs, 0 where it does not apply: the
/// row kernel's fused pooling (conv_implicit::pool2_applies), for unpadded
/// convolutions or, after their input is padded, padded ones.
pub fn pool2_workspace_len(g: &Geom) -> usize {
    if conv_implicit::pool2_applies(g) {
        return conv_implicit::pool2_workspace_len(g);
    }
    match padded(g) {
        Some(gp) if conv_implicit::pool2_applies(&gp) => padded_len(&gp) + conv_implicit::pool2_workspace_len(&gp),
        _ => 0,
    }
}

/// Inference: conv (relu if `relu`), then 2x2 max pooling (stride 2), the
/// conv output never written out (conv_implicit::forward_pool2); only where
/// pool2_workspace_len(g) > 0, `work` holding that many floats.
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward_pool2(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, relu: bool) {
    if conv_implicit::pool2_applies(g) {
        return conv_implicit::forward_pool2(g, x, w, bias, y, work, relu);
    }
    if let Some(gp) = padded(g) {
        if conv_implicit::pool2_applies(&gp) {
            pad_input(g, &gp, x, work);
            conv_implicit::forward_pool2(&gp, work, w, bias, y, work.add(padded_len(&gp)), relu);
        }
    }
}

/// Floats of workspace forward/backward need. Without `keep`: the im2col
/// matrix of one group of images, plus (when grouping) an [F, group*OHW] matrix
/// for outputs in GEMM order. With `keep`, the im2col matrices of the whole
/// batch, which a training forward leaves for the backward pass to reuse.
pub fn workspace_len(g: &Geom, keep: bool) -> usize {
    if dense_like(g) {
        return 0;
    }
    if conv_implicit::applies(g) {
        return conv_implicit::workspace_len(g) + data_scratch_len(g);
    }
    if let Some(gp) = padded(g) {
        // The padded x (kept between a training forward and its backward
        // whether or not `keep` asks), then the implicit route's workspace.
        // The input gradient's scratch follows the padded x (whose weights
        // are done by then) and needs the larger of its two routes' space.
        let weights = conv_implicit::workspace_len(&gp) + data_scratch_len(g);
        let data = data_as_conv(g).map_or(0, |(g2, g2p)| data_conv_len(&g2, &g2p));
        return padded_len(&gp) + if data > weights { data } else { weights };
    }
    let gs = group_size(g);
    let cols = g.ckk() * if keep { g.n } else { gs } * g.ohw();
    if gs == 1 {
        cols
    } else {
        cols + g.f * gs * g.ohw()
    }
}

/// Where group n0's im2col matrix lives in the workspace, and where the
/// [F, group*OHW] scratch starts.
#[inline]
fn layout(g: &Geom, n0: usize, keep: bool) -> (usize, usize) {
    let per_image = g.ckk() * g.ohw();
    if keep {
        (per_image * n0, per_image * g.n)
    } else {
        (0, per_image * group_size(g))
    }
}

/// im2col of images n0..n0+gs side by side: columns i*OHW.. hold image n0+i.
unsafe fn im2col_group(g: &Geom, x: *const f32, n0: usize, gs: usize, cols: *mut f32) {
    let chw = g.c * g.h * g.w;
    for i in 0..gs {
        im2col(g, x.add((n0 + i) * chw), cols.add(i * g.ohw()), gs * g.ohw());
    }
}

/// y = conv(x, w) + bias (bias may be null), then relu if `relu`, applied as
/// the kernels store each output for the last time. `work` holds
/// workspace_len(g, keep) floats; with `keep` the batch's im2col matrices stay
/// there for `backward`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32, keep: bool, relu: bool) {
    let (ckk, ohw) = (g.ckk(), g.ohw());
    if dense_like(g) {
        // y [N, F] = x [N, CKK] . w^T (+ bias)
        if !bias.is_null() {
            for n in 0..g.n {
                copy(bias, y.add(n * g.f), g.f);
            }
        }
        let beta = if bias.is_null() { 0.0 } else { 1.0 };
        sgemm_epilogue(false, true, g.n, g.f, ckk, 1.0, x, ckk, w, ckk, beta, y, g.f, core::ptr::null(), relu);
        return;
    }
    if conv_implicit::applies(g) {
        conv_implicit::forward(g, x, w, bias, y, work, relu);
        return;
    }
    if let Some(gp) = padded(g) {
        pad_input(g, &gp, x, work);
        conv_implicit::forward(&gp, work, w, bias, y, work.add(padded_len(&gp)), relu);
        return;
    }
    let gs = group_size(g);
    let chw = g.c * g.h * g.w;
    let mut n0 = 0;
    while n0 < g.n {
        let gn = if g.n - n0 < gs { g.n - n0 } else { gs };
        let ncols = gn * ohw;
        let (cols_at, tmp_at) = layout(g, n0, keep);
        // B operand: [CKK, gn*OHW]
        let b: *const f32 = if gn == 1 && cols_are_input(g) {
            x.add(n0 * chw)
        } else {
            im2col_group(g, x, n0, gn, work.add(cols_at));
            work.add(cols_at)
        };
        // Output in GEMM order: straight into y for one image, else a [F, gn*OHW] buffer.
        let out = if gn == 1 { y.add(n0 * g.f * ohw) } else { work.add(tmp_at) };
        let beta = if bias.is_null() { 0.0 } else { 1.0 };
        if !bias.is_null() {
            for fi in 0..g.f {
                crate::act::fill(out.add(fi * ncols), ncols, *bias.add(fi));
            }
        }
        sgemm_epilogue(false, false, g.f, ncols, ckk, 1.0, w, ckk, b, ncols, beta, out, ncols, core::ptr::null(), relu);
        if gn > 1 {
            // [F, gn, OHW] -> y[n0+i, F, OHW]
            for i in 0..gn {
                for fi in 0..g.f {
                    copy(out.add(fi * ncols + i * ohw), y.add(((n0 + i) * g.f + fi) * ohw), ohw);
                }
            }
        }
        n0 += gn;
    }
}

/// Gradients of `forward`: dw (F x CKK) and dbias (F) are overwritten; dx is
/// overwritten when non-null (the first layer skips it). `work` holds
/// workspace_len(g, cached) floats; with `cached` it still holds the im2col
/// matrices a `keep` forward of this batch left there, so none is recomputed.
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward(
    g: &Geom,
    x: *const f32,
    w: *const f32,
    dy: *const f32,
    dx: *mut f32,
    dw: *mut f32,
    dbias: *mut f32,
    work: *mut f32,
    cached: bool,
) {
    let (ckk, ohw) = (g.ckk(), g.ohw());
    let gs = group_size(g);
    let chw = g.c * g.h * g.w;
    if conv_implicit::applies(g) {
        // dbias there, image by image next to the packing of dy (dy read once).
        conv_implicit::backward_weights(g, x, dy, dw, dbias, work);
        if !dx.is_null() {
            backward_data(g, w, dy, dx, work.add(conv_implicit::scratch_start(g)));
        }
        return;
    }
    if let Some(gp) = padded(g) {
        // A `keep` forward of this batch left the padded x at the start of `work`.
        if !cached {
            pad_input(g, &gp, x, work);
        }
        let rest = work.add(padded_len(&gp));
        conv_implicit::backward_weights(&gp, work, dy, dw, dbias, rest);
        if !dx.is_null() {
            match data_as_conv(g) {
                Some((g2, g2p)) => backward_data_conv(&g2, &g2p, w, dy, dx, rest),
                None => backward_data(g, w, dy, dx, rest.add(conv_implicit::scratch_start(&gp))),
            }
        }
        return;
    }
    if !dbias.is_null() {
        bias_grad(g, dy, 0, g.n, dbias);
    }
    if dense_like(g) {
        // dw [F, CKK] = dy^T [F, N] . x [N, CKK];  dx [N, CKK] = dy [N, F] . w [F, CKK]
        sgemm(true, false, g.f, ckk, g.n, 1.0, dy, g.f, x, ckk, 0.0, dw, ckk);
        if !dx.is_null() {
            sgemm(false, false, g.n, ckk, g.f, 1.0, dy, g.f, w, ckk, 0.0, dx, ckk);
        }
        return;
    }
    let mut n0 = 0;
    while n0 < g.n {
        let gn = if g.n - n0 < gs { g.n - n0 } else { gs };
        let ncols = gn * ohw;
        let direct = gn == 1 && cols_are_input(g);
        let (cols_at, tmp_at) = layout(g, n0, cached);
        // dY in GEMM order [F, gn*OHW]
        let dyg = gemm_order(g, dy, n0, gn, work.add(tmp_at));
        // dw (+)= dY . cols^T
        let cols = work.add(cols_at);
        let b: *const f32 = if direct {
            x.add(n0 * chw)
        } else {
            if !cached {
                im2col_group(g, x, n0, gn, cols);
            }
            cols
        };
        sgemm(false, true, g.f, ckk, ncols, 1.0, dyg, ncols, b, ncols, if n0 == 0 { 0.0 } else { 1.0 }, dw, ckk);
        if !dx.is_null() {
            if direct {
                sgemm(true, false, ckk, ohw, g.f, 1.0, w, ckk, dyg, ohw, 0.0, dx.add(n0 * chw), ohw);
            } else {
                // dcols = W^T . dY -> [CKK, gn*OHW], over this group's cols (no longer
                // needed once dw has them), then col2im per image.
                sgemm(true, false, ckk, ncols, g.f, 1.0, w, ckk, dyg, ncols, 0.0, cols, ncols);
                for i in 0..gn {
                    let dxn = dx.add((n0 + i) * chw);
                    crate::act::fill(dxn, chw, 0.0);
                    col2im(g, cols.add(i * ohw), ncols, dxn);
                }
            }
        }
        n0 += gn;
    }
}

/// Floats `backward_data` needs: dcols of one group, plus dy of the group in
/// GEMM order when a group has more than one image.
fn data_scratch_len(g: &Geom) -> usize {
    let gs = group_size(g);
    g.ckk() * gs * g.ohw() + if gs > 1 { g.f * gs * g.ohw() } else { 0 }
}

/// dx = col2im(w^T . dy), a group of images per GEMM; `scratch` holds
/// data_scratch_len(g) floats. (The same GEMMs and col2im as `backward`'s
/// im2col route, for the implicit route, which has no cols to reuse.)
unsafe fn backward_data(g: &Geom, w: *const f32, dy: *const f32, dx: *mut f32, scratch: *mut f32) {
    let (ckk, ohw) = (g.ckk(), g.ohw());
    let gs = group_size(g);
    let chw = g.c * g.h * g.w;
    let dcols = scratch;
    let mut n0 = 0;
    while n0 < g.n {
        let gn = if g.n - n0 < gs { g.n - n0 } else { gs };
        let ncols = gn * ohw;
        let dyg = gemm_order(g, dy, n0, gn, scratch.add(ckk * gs * ohw));
        sgemm(true, false, ckk, ncols, g.f, 1.0, w, ckk, dyg, ncols, 0.0, dcols, ncols);
        for i in 0..gn {
            let dxn = dx.add((n0 + i) * chw);
            crate::act::fill(dxn, chw, 0.0);
            col2im(g, dcols.add(i * ohw), ncols, dxn);
        }
        n0 += gn;
    }
}

/// dy of images n0..n0+gn as one [F, gn*OHW] matrix: dy itself for one image,
/// else copied into `tmp`.
unsafe fn gemm_order(g: &Geom, dy: *const f32, n0: usize, gn: usize, tmp: *mut f32) -> *const f32 {
    let ohw = g.ohw();
    if gn == 1 {
        return dy.add(n0 * g.f * ohw);
    }
    let ncols = gn * ohw;
    for i in 0..gn {
        for fi in 0..g.f {
            copy(dy.add(((n0 + i) * g.f + fi) * ohw), tmp.add(fi * ncols + i * ohw), ohw);
        }
    }
    tmp
}
