//! Max and average pooling over NCHW planes (no padding: 'valid' windows).
//!
//! `planes` = N*C independent H x W planes; windows kh x kw with strides sh, sw;
//! output oh x ow per plane, with (oh-1)*sh + kh <= h (TypeScript checks).

use crate::simd::{I4, F4};

/// y = max over each window; argmax[o] = the in-plane index (iy*w + ix) of the
/// first maximum in row-major window order (ties go to the first, as in PyTorch).
/// A null argmax (inference) skips the indices: the same values.
pub unsafe fn max_forward(
    x: *const f32, y: *mut f32, argmax: *mut i32, planes: usize,
    h: usize, w: usize, kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    if argmax.is_null() {
        return max_forward_values(x, y, planes, h, w, kh, kw, sh, sw, oh, ow);
    }
    if kh == 2 && kw == 2 && sh == 2 && sw == 2 {
        return max_forward_2x2(x, y, argmax, planes, h, w, oh, ow);
    }
    for p in 0..planes {
        let xp = x.add(p * h * w);
        let (yp, ap) = (y.add(p * oh * ow), argmax.add(p * oh * ow));
        for oy in 0..oh {
            for ox in 0..ow {
                let base = oy * sh * w + ox * sw;
                let mut best = *xp.add(base);
                let mut at = base;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let idx = base + ky * w + kx;
                        let v = *xp.add(idx);
                        if v > best {
                            best = v;
                            at = idx;
                        }
                    }
                }
                *yp.add(oy * ow + ox) = best;
                *ap.add(oy * ow + ox) = at as i32;
            }
        }
    }
}

/// `max_forward` without the argmax: the same comparisons in the same order.
#[allow(clippy::too_many_arguments)]
unsafe fn max_forward_values(x: *const f32, y: *mut f32, planes: usize, h: usize, w: usize, kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize) {
    for p in 0..planes {
        let (xp, yp) = (x.add(p * h * w), y.add(p * oh * ow));
        for oy in 0..oh {
            if kh == 2 && kw == 2 && sh == 2 && sw == 2 {
                let r0 = xp.add(2 * oy * w);
                max_2x2_rows(r0, r0.add(w), yp.add(oy * ow), ow);
                continue;
            }
            for ox in 0..ow {
                let base = xp.add(oy * sh * w + ox * sw);
                let mut best = *base;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let v = *base.add(ky * w + kx);
                        if v > best {
                            best = v;
                        }
                    }
                }
                *yp.add(oy * ow + ox) = best;
            }
        }
    }
}

/// The common 2x2 window with stride 2, unrolled (same first-max-wins order:
/// top-left, top-right, bottom-left, bottom-right). 5x faster than the general loop.
unsafe fn max_forward_2x2(x: *const f32, y: *mut f32, argmax: *mut i32, planes: usize, h: usize, w: usize, oh: usize, ow: usize) {
    for p in 0..planes {
        let xp = x.add(p * h * w);
        let (yp, ap) = (y.add(p * oh * ow), argmax.add(p * oh * ow));
        for oy in 0..oh {
            let r0 = 2 * oy * w;
            // Four windows at a time: even/odd columns of two rows are the four
            // cells; strict > in the same order keeps the first maximum.
            let mut ox = 0;
            while ox + 4 <= ow {
                let i0 = r0 + 2 * ox;
                let (a, b) = F4::even_odd(F4::load(xp.add(i0)), F4::load(xp.add(i0 + 4)));
                let (c, d) = F4::even_odd(F4::load(xp.add(i0 + w)), F4::load(xp.add(i0 + w + 4)));
                let ia = I4::new(i0 as i32, i0 as i32 + 2, i0 as i32 + 4, i0 as i32 + 6);
                let (mut best, mut at) = (a, ia);
                let m = b.gt(best);
                best = F4::select(m, b, best);
                at = I4::select(m, ia.add_scalar(1), at);
                let m = c.gt(best);
                best = F4::select(m, c, best);
                at = I4::select(m, ia.add_scalar(w as i32), at);
                let m = d.gt(best);
                best = F4::select(m, d, best);
                at = I4::select(m, ia.add_scalar(w as i32 + 1), at);
                best.store(yp.add(oy * ow + ox));
                at.store(ap.add(oy * ow + ox));
                ox += 4;
            }
            for ox in ox..ow {
                let i0 = r0 + 2 * ox;
                let i2 = i0 + w;
                let (a, b, c, d) = (*xp.add(i0), *xp.add(i0 + 1), *xp.add(i2), *xp.add(i2 + 1));
                let (mut best, mut at) = (a, i0);
                if b > best {
                    best = b;
                    at = i0 + 1;
                }
                if c > best {
                    best = c;
                    at = i2;
                }
                if d > best {
                    best = d;
                    at = i2 + 1;
                }
                *yp.add(oy * ow + ox) = best;
                *ap.add(oy * ow + ox) = at as i32;
            }
        }
    }
}

/// y[0..ow] = the maxima of the 2x2 windows (stride 2) over rows r0 and r1
/// (2*ow values each): max_forward_2x2's values, compared in the same order
/// with the same strict >, without the argmax (inference).
pub unsafe fn max_2x2_rows(r0: *const f32, r1: *const f32, y: *mut f32, ow: usize) {
    let mut ox = 0;
    while ox + 4 <= ow {
        let (a, b) = F4::even_odd(F4::load(r0.add(2 * ox)), F4::load(r0.add(2 * ox + 4)));
        let (c, d) = F4::even_odd(F4::load(r1.add(2 * ox)), F4::load(r1.add(2 * ox + 4)));
        let mut best = a;
        best = F4::select(b.gt(best), b, best);
        best = F4::select(c.gt(best), c, best);
        best = F4::select(d.gt(best), d, best);
        best.store(y.add(ox));
        ox += 4;
    }
    for ox in ox..ow {
        let mut best = *r0.add(2 * ox);
        for v in [*r0.add(2 * ox + 1), *r1.add(2 * ox), *r1.add(2 * ox + 1)] {
            if v > best {
                best = v;
            }
        }
        *y.add(ox) = best;
    }
}

/// dx = 0, then dx[argmax[o]] += dy[o] (overlapping windows add up).
pub unsafe fn max_backward(dy: *const f32, argmax: *const i32, dx: *mut f32, planes: usize, h: usize, w: usize, oh: usize, ow: usize) {
    crate::act::fill(dx, planes * h * w, 0.0);
    for p in 0..planes {
        let dxp = dx.add(p * h * w);
        let (dyp, ap) = (dy.add(p * oh * ow), argmax.add(p * oh * ow));
        for o in 0..oh * ow {
            *dxp.add(*ap.add(o) as usize) += *dyp.add(o);
        }
    }
}

/// y = mean over each window.
pub unsafe fn avg_forward(
    x: *const f32, y: *mut f32, planes: usize,
    h: usize, w: usize, kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    let inv = 1.0 / (kh * kw) as f32;
    for p in 0..planes {
        let xp = x.add(p * h * w);
        let yp = y.add(p * oh * ow);
        for oy in 0..oh {
            for ox in 0..ow {
                let base = oy * sh * w + ox * sw;
                let mut s = 0.0f32;
                for ky in 0..kh {
                    for kx in 0..kw {
                        s += *xp.add(base + ky * w + kx);
                    }
                }
                *yp.add(oy * ow + ox) = s * inv;
            }
        }
    }
}

/// dx = 0, then each window's cells get dy / (kh*kw).
pub unsafe fn avg_backward(
    dy: *const f32, dx: *mut f32, planes: usize,
    h: usize, w: usize, kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    crate::act::fill(dx, planes * h * w, 0.0);
    let inv = 1.0 / (kh * kw) as f32;
    for p in 0..planes {
        let dxp = dx.add(p * h * w);
        let dyp = dy.add(p * oh * ow);
        for oy in 0..oh {
            for ox in 0..ow {
                let g = *dyp.add(oy * ow + ox) * inv;
                let base = oy * sh * w + ox * sw;
                for ky in 0..kh {
                    for kx in 0..kw {
                        *dxp.add(base + ky * w + kx) += g;
                    }
                }
            }
        }
    }
}

/// Constant padding: y [planes, oh, ow] holds x [planes, h, w] at offset (top, left), `value` elsewhere.
pub unsafe fn pad_forward(x: *const f32, y: *mut f32, planes: usize, h: usize, w: usize, top: usize, left: usize, oh: usize, ow: usize, value: f32) {
    crate::act::fill(y, planes * oh * ow, value);
    for p in 0..planes {
        for iy in 0..h {
            let src = x.add((p * h + iy) * w);
            let dst = y.add((p * oh + iy + top) * ow + left);
            for ix in 0..w {
                *dst.add(ix) = *src.add(ix);
            }
        }
    }
}

/// Gradient of zero padding: dx is the (top, left) crop of dy.
pub unsafe fn pad_backward(dy: *const f32, dx: *mut f32, planes: usize, h: usize, w: usize, top: usize, left: usize, oh: usize, ow: usize) {
    for p in 0..planes {
        for iy in 0..h {
            let src = dy.add((p * oh + iy + top) * ow + left);
            let dst = dx.add((p * h + iy) * w);
            for ix in 0..w {
                *dst.add(ix) = *src.add(ix);
            }
        }
    }
}
