//! Element-wise kernels: relu, bias add, bias gradients, dropout, sums, copies.

use crate::rng;
use crate::simd::F4;

/// Sum of `len` floats, accumulated in four lanes then reduced in a fixed order
/// (so the result does not depend on anything but the data and the build).
#[inline]
pub unsafe fn sum(p: *const f32, len: usize) -> f32 {
    let mut acc = F4::zero();
    let mut i = 0;
    while i + 4 <= len {
        acc = acc.add(F4::load(p.add(i)));
        i += 4;
    }
    let mut s = acc.hsum();
    while i < len {
        s += *p.add(i);
        i += 1;
    }
    s
}

/// Rows whose sums `add_row_sums` runs side by side: each row's sum is one chain
/// of adds (latency-bound alone); 8 rows keep 8 v128 accumulators with SIMD, 2
/// rows keep 8 scalar ones without.
#[cfg(target_feature = "simd128")]
const SUM_ROWS: usize = 8;
#[cfg(not(target_feature = "simd128"))]
const SUM_ROWS: usize = 2;

/// out[r] += sum(p + r*ld, len) for r < rows, each sum exactly as `sum` computes
/// it (so the same bits), several rows side by side.
pub unsafe fn add_row_sums(p: *const f32, ld: usize, rows: usize, len: usize, out: *mut f32) {
    let mut r0 = 0;
    while r0 < rows {
        let (p, out) = (p.add(r0 * ld), out.add(r0));
        match rows - r0 {
            1 => add_sums::<1>(p, ld, len, out),
            2 if SUM_ROWS > 2 => add_sums::<2>(p, ld, len, out),
            3 if SUM_ROWS > 3 => add_sums::<3>(p, ld, len, out),
            4 if SUM_ROWS > 4 => add_sums::<4>(p, ld, len, out),
            5 if SUM_ROWS > 5 => add_sums::<5>(p, ld, len, out),
            6 if SUM_ROWS > 6 => add_sums::<6>(p, ld, len, out),
            7 if SUM_ROWS > 7 => add_sums::<7>(p, ld, len, out),
            _ => add_sums::<SUM_ROWS>(p, ld, len, out),
        }
        r0 += if rows - r0 < SUM_ROWS { rows - r0 } else { SUM_ROWS };
    }
}

/// `add_row_sums` for R rows.
#[inline(always)]
unsafe fn add_sums<const R: usize>(p: *const f32, ld: usize, len: usize, out: *mut f32) {
    let mut acc = [F4::zero(); R];
    let mut i = 0;
    while i + 4 <= len {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = a.add(F4::load(p.add(r * ld + i)));
        }
        i += 4;
    }
    for (r, a) in acc.iter().enumerate() {
        let mut s = a.hsum();
        for j in i..len {
            s += *p.add(r * ld + j);
        }
        *out.add(r) += s;
    }
}

/// y = max(x, 0). `y` may equal `x` (in place).
pub unsafe fn relu_forward(x: *const f32, y: *mut f32, len: usize) {
    let z = F4::zero();
    let mut i = 0;
    while i + 4 <= len {
        F4::load(x.add(i)).max(z).store(y.add(i));
        i += 4;
    }
    while i < len {
        let v = *x.add(i);
        *y.add(i) = if v > 0.0 { v } else { 0.0 };
        i += 1;
    }
}

/// dx = dy where y > 0, else 0 (`y` is the relu output; y > 0 exactly when x > 0).
/// `dx` may equal `dy`.
pub unsafe fn relu_backward(y: *const f32, dy: *const f32, dx: *mut f32, len: usize) {
    let mut i = 0;
    while i + 4 <= len {
        F4::load(y.add(i)).select_pos(F4::load(dy.add(i))).store(dx.add(i));
        i += 4;
    }
    while i < len {
        *dx.add(i) = if *y.add(i) > 0.0 { *dy.add(i) } else { 0.0 };
        i += 1;
    }
}

/// y[r][c] += bias[c] for a rows x cols matrix (dense layer output).
pub unsafe fn bias_add_rows(y: *mut f32, bias: *const f32, rows: usize, cols: usize) {
    for r in 0..rows {
        let row = y.add(r * cols);
        let mut c = 0;
        while c + 4 <= cols {
            F4::load(row.add(c)).add(F4::load(bias.add(c))).store(row.add(c));
            c += 4;
        }
        while c < cols {
            *row.add(c) += *bias.add(c);
            c += 1;
        }
    }
}

/// dbias[c] = sum over rows of dy[r][c].
pub unsafe fn bias_grad_rows(dy: *const f32, dbias: *mut f32, rows: usize, cols: usize) {
    for c in 0..cols {
        *dbias.add(c) = 0.0;
    }
    add_rows(dy, rows, cols, dbias);
}

/// dst[c] += src[r*cols + c] for each row r in order.
pub unsafe fn add_rows(src: *const f32, rows: usize, cols: usize, dst: *mut f32) {
    for r in 0..rows {
        let row = src.add(r * cols);
        let mut c = 0;
        while c + 4 <= cols {
            F4::load(dst.add(c)).add(F4::load(row.add(c))).store(dst.add(c));
            c += 4;
        }
        while c < cols {
            *dst.add(c) += *row.add(c);
            c += 1;
        }
    }
}

/// Inverted dropout, forward: mask[i] = 1/keep with probability `keep`, else 0;
/// y = x * mask. The draw for element i depends only on (seed, offset + i):
/// a shard of a batch passes its first element's index in the whole batch as
/// `offset` and gets the masks the whole batch would.
pub unsafe fn dropout_forward(x: *const f32, y: *mut f32, mask: *mut f32, len: usize, keep: f32, seed: u64, offset: usize) {
    let scale = 1.0 / keep;
    for i in 0..len {
        let m = if rng::uniform(seed, (offset + i) as u64) < keep { scale } else { 0.0 };
        *mask.add(i) = m;
        *y.add(i) = *x.add(i) * m;
    }
}

/// dst = a * b element-wise (dropout backward: dx = dy * mask). `dst` may alias.
pub unsafe fn mul(a: *const f32, b: *const f32, dst: *mut f32, len: usize) {
    let mut i = 0;
    while i + 4 <= len {
        F4::load(a.add(i)).mul(F4::load(b.add(i))).store(dst.add(i));
        i += 4;
    }
    while i < len {
        *dst.add(i) = *a.add(i) * *b.add(i);
        i += 1;
    }
}

/// Sets `len` floats to `v`.
pub unsafe fn fill(p: *mut f32, len: usize, v: f32) {
    let vv = F4::splat(v);
    let mut i = 0;
    while i + 4 <= len {
        vv.store(p.add(i));
        i += 4;
    }
    while i < len {
        *p.add(i) = v;
        i += 1;
    }
}

/// y[i] = table[x[i]]: bytes to floats through a 256-entry table (input
/// normalisation of u8 pixels, bit-identical to doing it in JavaScript).
pub unsafe fn lut_u8(x: *const u8, table: *const f32, y: *mut f32, len: usize) {
    for i in 0..len {
        *y.add(i) = *table.add(*x.add(i) as usize);
    }
}

/// y = (x * scale + shift) element-wise: input normalisation of u8-derived data.
pub unsafe fn affine(x: *const f32, y: *mut f32, len: usize, scale: f32, shift: f32) {
    let (s, t) = (F4::splat(scale), F4::splat(shift));
    let mut i = 0;
    while i + 4 <= len {
        F4::load(x.add(i)).mul(s).add(t).store(y.add(i));
        i += 4;
    }
    while i < len {
        *y.add(i) = *x.add(i) * scale + shift;
        i += 1;
    }
}
