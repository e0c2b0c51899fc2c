//! 2-D convolution (cross-correlation, as in every DL framework), NCHW, f32.
//!
//! Shapes: x [N, C, H, W], w [F, C, KH, KW] (= F x CKK row-major, CKK = C*KH*KW),
//! bias [F], y [N, F, OH, OW]. Padding: `ph`/`pw` rows/cols of zeros on the top/left;
//! the bottom/right padding is whatever `oh`/`ow` imply (TypeScript computes them),
//! so 'same' with an odd total pad works unchanged.
//!
//! Each image goes through im2col into `cols` [CKK, OH*OW] (a workspace the caller
//! owns; small enough to stay in L2 for LeNet shapes) and one GEMM:
//!   forward:          y[n]  = w (F x CKK) . cols (CKK x OHW)
//!   backward-weights: dw   += dy[n] (F x OHW) . cols^T (OHW x CKK)
//!   backward-data:    dcols = w^T (CKK x F) . dy[n] (F x OHW);  dx[n] = col2im(dcols)

use crate::gemm::sgemm;

/// Geometry of one convolution.
#[derive(Clone, Copy)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub f: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geom {
    #[inline]
    pub fn ckk(&self) -> usize {
        self.c * self.kh * self.kw
    }
    #[inline]
    pub fn ohw(&self) -> usize {
        self.oh * self.ow
    }
}

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

/// cols[(ci*KH + ky)*KW + kx][oy*OW + ox] = x[ci][oy*sh - ph + ky][ox*sw - pw + kx] (0 outside).
pub unsafe fn im2col(g: &Geom, x: *const f32, cols: *mut f32) {
    let ohw = g.ohw();
    for ci in 0..g.c {
        let plane = x.add(ci * g.h * g.w);
        for ky in 0..g.kh {
            let (oy_lo, oy_hi) = valid_range(g.oh, g.sh, g.ph, ky, g.h);
            for kx in 0..g.kw {
                let (ox_lo, ox_hi) = valid_range(g.ow, g.sw, g.pw, kx, g.w);
                let row = cols.add(((ci * g.kh + ky) * g.kw + kx) * ohw);
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
                        let s = src.add(ox_lo + kx - g.pw);
                        for ox in ox_lo..ox_hi {
                            *dst.add(ox) = *s.add(ox - ox_lo);
                        }
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

/// The adjoint of im2col: dx[ci][iy][ix] += every dcols entry im2col read from there.
/// dx must be zeroed (or hold a gradient to add to) before the call.
pub unsafe fn col2im(g: &Geom, dcols: *const f32, dx: *mut f32) {
    let ohw = g.ohw();
    for ci in 0..g.c {
        let plane = dx.add(ci * g.h * g.w);
        for ky in 0..g.kh {
            let (oy_lo, oy_hi) = valid_range(g.oh, g.sh, g.ph, ky, g.h);
            for kx in 0..g.kw {
                let (ox_lo, ox_hi) = valid_range(g.ow, g.sw, g.pw, kx, g.w);
                let row = dcols.add(((ci * g.kh + ky) * g.kw + kx) * ohw);
                for oy in oy_lo..oy_hi {
                    let src = row.add(oy * g.ow);
                    let dst = plane.add((oy * g.sh + ky - g.ph) * g.w);
                    for ox in ox_lo..ox_hi {
                        *dst.add(ox * g.sw + kx - g.pw) += *src.add(ox);
                    }
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

/// y = conv(x, w) + bias (bias may be null). `cols` holds CKK*OHW floats.
pub unsafe fn forward(g: &Geom, x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, cols: *mut f32) {
    let (ckk, ohw) = (g.ckk(), g.ohw());
    for n in 0..g.n {
        let xn = x.add(n * g.c * g.h * g.w);
        let yn = y.add(n * g.f * ohw);
        let b: *const f32 = if cols_are_input(g) {
            xn
        } else {
            im2col(g, xn, cols);
            cols
        };
        if bias.is_null() {
            sgemm(false, false, g.f, ohw, ckk, 1.0, w, ckk, b, ohw, 0.0, yn, ohw);
        } else {
            for fi in 0..g.f {
                let v = *bias.add(fi);
                let row = yn.add(fi * ohw);
                for i in 0..ohw {
                    *row.add(i) = v;
                }
            }
            sgemm(false, false, g.f, ohw, ckk, 1.0, w, ckk, b, ohw, 1.0, yn, ohw);
        }
    }
}

/// Gradients of `forward`: dw (F x CKK) and dbias (F) are overwritten; dx is
/// overwritten when non-null (the first layer skips it). `cols` holds CKK*OHW floats.
pub unsafe fn backward(
    g: &Geom,
    x: *const f32,
    w: *const f32,
    dy: *const f32,
    dx: *mut f32,
    dw: *mut f32,
    dbias: *mut f32,
    cols: *mut f32,
) {
    let (ckk, ohw) = (g.ckk(), g.ohw());
    let direct = cols_are_input(g);
    if !dbias.is_null() {
        for fi in 0..g.f {
            let mut s = 0.0f32;
            for n in 0..g.n {
                let row = dy.add((n * g.f + fi) * ohw);
                s += crate::act::sum(row, ohw);
            }
            *dbias.add(fi) = s;
        }
    }
    for n in 0..g.n {
        let xn = x.add(n * g.c * g.h * g.w);
        let dyn_ = dy.add(n * g.f * ohw);
        // dw (+)= dy[n] . cols^T
        let b: *const f32 = if direct {
            xn
        } else {
            im2col(g, xn, cols);
            cols
        };
        sgemm(false, true, g.f, ckk, ohw, 1.0, dyn_, ohw, b, ohw, if n == 0 { 0.0 } else { 1.0 }, dw, ckk);
        if !dx.is_null() {
            let dxn = dx.add(n * g.c * g.h * g.w);
            if direct {
                sgemm(true, false, ckk, ohw, g.f, 1.0, w, ckk, dyn_, ohw, 0.0, dxn, ohw);
            } else {
                sgemm(true, false, ckk, ohw, g.f, 1.0, w, ckk, dyn_, ohw, 0.0, cols, ohw);
                for i in 0..g.c * g.h * g.w {
                    *dxn.add(i) = 0.0;
                }
                col2im(g, cols, dxn);
            }
        }
    }
}
