//! Packed single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major.
//!
//! BLIS structure (loops jc -> pc -> ic -> jr -> ir):
//! - op(B) is packed, KC rows x NC columns at a time, into NR-column panels;
//! - op(A) is packed, MC rows x KC at a time, into MR-row panels (alpha folded in);
//! - one register-blocked microkernel multiplies an MR-row panel by an NR-column
//!   panel. Packing reads any stride, so transposed operands cost nothing extra.
//!
//! Tile sizes follow the probe in shared/notes/wasm-simd-gemm-probe.md: with SIMD
//! a 4x8 tile (8 f32x4 accumulators + 2 B vectors + 1 broadcast <= 14 live v128,
//! above which V8 spills); the scalar build uses 2x4 (8 scalar accumulators),
//! the best scalar kernel measured there.

use crate::simd::F4;
use core::mem::MaybeUninit;

/// Rows of the register tile.
#[cfg(target_feature = "simd128")]
pub const MR: usize = 4;
/// f32x4 vectors per tile row (NR = 4 * NV columns).
#[cfg(target_feature = "simd128")]
const NV: usize = 2;
#[cfg(not(target_feature = "simd128"))]
pub const MR: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const NV: usize = 1;

/// Columns of the register tile.
pub const NR: usize = 4 * NV;
const KC: usize = 256;
const MC: usize = 120; // a multiple of MR (4 and 2)
const NC: usize = 4096;

// Packing buffers. wasm is single-threaded, so one static pair serves every call;
// statics live in .bss, which costs no bytes in the .wasm file.
static mut PACK_A: [f32; MC * KC] = [0.0; MC * KC];
static mut PACK_B: [f32; KC * NC] = [0.0; KC * NC];

/// Element (row, col) of a row-major matrix stored with leading dimension `ld`,
/// read as its transpose when `trans`.
#[inline(always)]
unsafe fn at(p: *const f32, ld: usize, trans: bool, row: usize, col: usize) -> f32 {
    if trans {
        *p.add(col * ld + row)
    } else {
        *p.add(row * ld + col)
    }
}

/// Packs op(A)[i0..i0+mc, p0..p0+kc] * alpha into MR-row panels: panel q holds
/// rows q*MR.., stored k-major (MR floats per k). Rows past mc are not written:
/// the microkernel for a short panel only reads the rows it has.
unsafe fn pack_a(trans: bool, a: *const f32, lda: usize, i0: usize, p0: usize, mc: usize, kc: usize, alpha: f32, dst: *mut f32) {
    let mut q = 0;
    while q < mc {
        let rows = if mc - q < MR { mc - q } else { MR };
        let panel = dst.add(q * kc);
        if !trans {
            for r in 0..rows {
                let src = a.add((i0 + q + r) * lda + p0);
                for p in 0..kc {
                    *panel.add(p * MR + r) = alpha * *src.add(p);
                }
            }
        } else {
            for p in 0..kc {
                let src = a.add((p0 + p) * lda + i0 + q);
                for r in 0..rows {
                    *panel.add(p * MR + r) = alpha * *src.add(r);
                }
            }
        }
        q += MR;
    }
}

/// Packs op(B)[p0..p0+kc, j0..j0+nc] into NR-column panels, k-major (NR floats
/// per k). A short last panel is zero-padded to NR columns.
unsafe fn pack_b(trans: bool, b: *const f32, ldb: usize, p0: usize, j0: usize, kc: usize, nc: usize, dst: *mut f32) {
    let mut q = 0;
    while q < nc {
        let cols = if nc - q < NR { nc - q } else { NR };
        let panel = dst.add(q * kc);
        if !trans && cols == NR {
            for p in 0..kc {
                let src = b.add((p0 + p) * ldb + j0 + q);
                let d = panel.add(p * NR);
                for v in 0..NV {
                    F4::load(src.add(4 * v)).store(d.add(4 * v));
                }
            }
        } else {
            for p in 0..kc {
                let d = panel.add(p * NR);
                for c in 0..cols {
                    *d.add(c) = at(b, ldb, trans, p0 + p, j0 + q + c);
                }
                for c in cols..NR {
                    *d.add(c) = 0.0;
                }
            }
        }
        q += NR;
    }
}

/// The microkernel: an R x NR tile (R <= MR) of packed A panel x packed B panel
/// over kc steps, stored to `c` (row stride ldc), added to it when `accumulate`.
#[inline(always)]
unsafe fn micro<const R: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
    let mut acc = [[F4::zero(); NV]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let mut bv = [F4::zero(); NV];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = F4::load(b.add(4 * j));
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = F4::load_splat(a.add(i));
            for j in 0..NV {
                row[j] = row[j].add(av.mul(bv[j]));
            }
        }
        a = a.add(MR);
        b = b.add(NR);
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let p = c.add(i * ldc + 4 * j);
            if accumulate {
                F4::load(p).add(*v).store(p);
            } else {
                v.store(p);
            }
        }
    }
}

#[inline(always)]
unsafe fn micro_rows(rows: usize, kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
    match rows {
        4 => micro::<4>(kc, a, b, c, ldc, accumulate),
        3 => micro::<3>(kc, a, b, c, ldc, accumulate),
        2 => micro::<2>(kc, a, b, c, ldc, accumulate),
        _ => micro::<1>(kc, a, b, c, ldc, accumulate),
    }
}

/// Multiplies the packed mc x kc block of A by the packed kc x nc block of B into C.
unsafe fn macro_kernel(mc: usize, nc: usize, kc: usize, pa: *const f32, pb: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
    let mut jr = 0;
    while jr < nc {
        let cols = if nc - jr < NR { nc - jr } else { NR };
        let panel_b = pb.add(jr * kc);
        let mut ir = 0;
        while ir < mc {
            let rows = if mc - ir < MR { mc - ir } else { MR };
            let panel_a = pa.add(ir * kc);
            let cij = c.add(ir * ldc + jr);
            if cols == NR {
                micro_rows(rows, kc, panel_a, panel_b, cij, ldc, accumulate);
            } else {
                // Right edge: compute the full-width tile on the stack (uninitialised:
                // a zeroed temporary would become a memset call), copy the valid part.
                let mut tile: MaybeUninit<[f32; MR * NR]> = MaybeUninit::uninit();
                let t = tile.as_mut_ptr() as *mut f32;
                micro_rows(rows, kc, panel_a, panel_b, t, NR, false);
                for r in 0..rows {
                    for q in 0..cols {
                        let dst = cij.add(r * ldc + q);
                        let v = *t.add(r * NR + q);
                        *dst = if accumulate { *dst + v } else { v };
                    }
                }
            }
            ir += MR;
        }
        jr += NR;
    }
}

/// Scales the m x n matrix C (row stride ldc) by beta; beta == 0 writes zeros
/// (so NaN or garbage in C does not survive, as in BLAS).
pub unsafe fn scale(m: usize, n: usize, beta: f32, c: *mut f32, ldc: usize) {
    for i in 0..m {
        let row = c.add(i * ldc);
        for j in 0..n {
            *row.add(j) = if beta == 0.0 { 0.0 } else { beta * *row.add(j) };
        }
    }
}

/// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, all row-major.
/// op(A) = A^T when `trans_a` (A is then stored k x m with row stride lda), same for B.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == 0.0 {
        if beta != 1.0 {
            scale(m, n, beta, c, ldc);
        }
        return;
    }
    // beta is applied once up front unless it is 0 (first k block stores) or 1.
    if beta != 0.0 && beta != 1.0 {
        scale(m, n, beta, c, ldc);
    }
    let pa = core::ptr::addr_of_mut!(PACK_A) as *mut f32;
    let pb = core::ptr::addr_of_mut!(PACK_B) as *mut f32;
    let mut jc = 0;
    while jc < n {
        let nc = if n - jc < NC { n - jc } else { NC };
        let mut pc = 0;
        while pc < k {
            let kc = if k - pc < KC { k - pc } else { KC };
            let accumulate = pc > 0 || beta != 0.0;
            pack_b(trans_b, b, ldb, pc, jc, kc, nc, pb);
            let mut ic = 0;
            while ic < m {
                let mc = if m - ic < MC { m - ic } else { MC };
                pack_a(trans_a, a, lda, ic, pc, mc, kc, alpha, pa);
                macro_kernel(mc, nc, kc, pa, pb, c.add(ic * ldc + jc), ldc, accumulate);
                ic += MC;
            }
            pc += KC;
        }
        jc += NC;
    }
}
