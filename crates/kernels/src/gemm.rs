//! Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major.
//!
//! BLIS structure: op(A) is packed MC x KC at a time into MR-row panels (alpha
//! folded in, any stride, so a transposed A costs nothing extra) and one
//! register-blocked microkernel multiplies a panel of A by a panel of op(B),
//! which is packed KC x NC at a time into NR-column panels.
//!
//! Tile shapes follow shared/notes/wasm-simd-gemm-probe.md: 4x8 with SIMD
//! (8 f32x4 accumulators + 2 B vectors + 1 broadcast <= 14 live v128; V8 spills
//! beyond), 2x4 in the scalar build (8 scalar accumulators, the best scalar
//! kernel measured there). The driver is `#[inline(never)]`: one giant function
//! made V8 fall back to a weaker register allocator.
//!
//! The probe's other winner, 2x16 reading B in place ("directB"), is slower
//! than 4x8 on packed B as the general tile (0.6x on 512^3), but
//! when op(A) has few rows packing B costs more than it saves: then whole
//! 16-column blocks of B are read in place by a 2x16 tile on the same packed A
//! (see DIRECT_B_MAX_M), unless B's row stride is a multiple of 4 KiB (see
//! ALIAS_FLOATS); then, with SIMD, the first row pair's 2x16 tile reads each
//! 16-column panel in place and copies it to L1 for the other pairs
//! (`tiles_2x16_copy`), and in the scalar build B is copied a line of each row
//! at a time, just before 2x4 tiles read it (see LINE_COLS; B first read ahead
//! row by row when larger than L2: `touch`).

use crate::simd::F4;
use core::mem::MaybeUninit;

/// Tile: MR rows x 4*NV columns.
#[cfg(target_feature = "simd128")]
const MR: usize = 4;
#[cfg(target_feature = "simd128")]
const NV: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const MR: usize = 2;
#[cfg(not(target_feature = "simd128"))]
const NV: usize = 1;

const NR: usize = 4 * NV;
/// Depth of a k block: sums over k run in blocks of KC (conv_implicit matches this).
pub const KC: usize = 256;
const MC: usize = 120; // a multiple of MR
const NC: usize = 4096;
/// With at most this many rows in op(A), each B panel would be used only a
/// few times after packing, so B is read in place by a 2x16 tile instead (a
/// whole 64-byte line of each B row per k step; the probe's best tile on the
/// conv shapes). Sums run in the same order either way. LeNet's conv2 as one
/// GEMM (m = 16): 1.14x. SIMD build only: 2x16 as scalars would need 32
/// accumulators.
#[cfg(target_feature = "simd128")]
const DIRECT_B_MAX_M: usize = 16;
#[cfg(not(target_feature = "simd128"))]
const DIRECT_B_MAX_M: usize = 0;
/// Line route with SIMD: B's 16-column panels are read by the direct route's
/// 2x16 tile (rows in pairs) rather than packed into two 8-wide panels for the
/// 4x8 tile, whose 2-row remainder (m = 6) idles half its accumulators
/// ([6x25]x[25x4096]: 1.10x); see `tiles_2x16_copy`.
const LINE_2X16: bool = cfg!(target_feature = "simd128");
/// Columns of the direct-B tile.
const DIRECT_NR: usize = 16;
/// In the scalar build, small-A GEMMs pack B a block of one 64-byte line of
/// each row (16 columns) at a time, just before the tiles that use it (see
/// `pack_block`); the block stays in L1.
const LINE_COLS: usize = 16;
/// LeNet's conv1 as one GEMM, [6x25]x[25x100352], interleaved A/B: 1.22x
/// scalar; SIMD, packing blocks of 128 KiB: 1.18x, and copying panels in the
/// first row pair's tile instead: 1.32x more.
const LINE_MAX_M: usize = 16;
/// B rows ldb floats apart with ldb a multiple of this (4 KiB) all fall into one
/// L1 set, and the kc lines a tile reads in place evict each other before the
/// next row pair reads them again: copying them wins there (LeNet's conv1 as one GEMM,
/// ldb = 100352: 0.96x when copying meant a packing pass; 1.3-1.45x with the
/// copy made by the first pair's tile).
const ALIAS_FLOATS: usize = 1024;
/// Floats of the edge scratch tile.
const MAX_TILE: usize = MR * NR;

/// The epilogue the last k block applies as it stores each tile: C += bias (one
/// value per column of C; null for none), then relu. The bias comes after the
/// whole sum, as a bias pass after the GEMM would add it, so fused and unfused
/// give the same bits. Tiles with an epilogue are separate instances (`EP` =
/// true) in functions of their own: a value more live in the tile loops, or a
/// bigger driver, made V8 spill inside the k loop (4x8 tiles at about half speed).
#[derive(Clone, Copy)]
struct Epi {
    bias: *const f32,
    relu: bool,
}

impl Epi {
    const NONE: Epi = Epi { bias: core::ptr::null(), relu: false };
    /// The same, for a tile whose first column is `col` columns on.
    #[inline(always)]
    fn at(self, col: usize) -> Epi {
        Epi { bias: if self.bias.is_null() { self.bias } else { unsafe { self.bias.add(col) } }, ..self }
    }
    #[inline(always)]
    fn vector(self, v: F4, j: usize) -> F4 {
        let v = if self.bias.is_null() { v } else { v.add(unsafe { F4::load(self.bias.add(4 * j)) }) };
        if self.relu { v.max(F4::zero()) } else { v }
    }
    #[inline(always)]
    fn scalar(self, v: f32, col: usize) -> f32 {
        let v = if self.bias.is_null() { v } else { v + unsafe { *self.bias.add(col) } };
        // F4::max's rule (`v < 0 ? 0 : v`), so every element of a tile agrees.
        if self.relu && v < 0.0 { 0.0 } else { v }
    }
}

/// A packing buffer on a 64-byte boundary: panels start on cache lines, and
/// their alignment does not move with the size of other statics.
#[repr(C, align(64))]
struct Aligned<const N: usize>([f32; N]);

// Packing buffers. wasm is single-threaded, so one static pair serves every call;
// statics live in .bss, which costs no bytes in the .wasm file.
static mut PACK_A: Aligned<{ MC * KC }> = Aligned([0.0; MC * KC]);
static mut PACK_B: Aligned<{ KC * NC }> = Aligned([0.0; KC * NC]);
/// A copied panel of B (SIMD: kc x 16) or a packed line block (scalar: kc x 16).
static mut PACK_LINE: Aligned<{ KC * LINE_COLS }> = Aligned([0.0; KC * LINE_COLS]);

/// Writes dst[p*P + r] = scale * src[r*ld + p] for r < rows, p < kc: `rows`
/// rows of a row-major matrix, transposed into a k-major panel of width P.
/// Whole groups of 4 rows go through 4x4 in-register transposes.
#[inline(always)]
unsafe fn transpose_into_panel<const P: usize>(src: *const f32, ld: usize, rows: usize, kc: usize, scale: f32, dst: *mut f32) {
    let mut r0 = 0;
    if P % 4 == 0 {
        let vs = F4::splat(scale);
        while r0 + 4 <= rows {
            let mut p = 0;
            while p + 4 <= kc {
                let t = F4::transpose4([
                    F4::load(src.add(r0 * ld + p)),
                    F4::load(src.add((r0 + 1) * ld + p)),
                    F4::load(src.add((r0 + 2) * ld + p)),
                    F4::load(src.add((r0 + 3) * ld + p)),
                ]);
                for (i, v) in t.iter().enumerate() {
                    v.mul(vs).store(dst.add((p + i) * P + r0));
                }
                p += 4;
            }
            for p in p..kc {
                for r in r0..r0 + 4 {
                    *dst.add(p * P + r) = scale * *src.add(r * ld + p);
                }
            }
            r0 += 4;
        }
    }
    for r in r0..rows {
        let row = src.add(r * ld);
        for p in 0..kc {
            *dst.add(p * P + r) = scale * *row.add(p);
        }
    }
}

/// Packs op(A)[i0..i0+mc, p0..p0+kc] * alpha into P-row panels: panel q holds
/// rows q.., k-major (P floats per k). Rows past mc are not written: the
/// microkernel for a short panel reads only the rows it has.
unsafe fn pack_a<const P: usize>(trans: bool, a: *const f32, lda: usize, i0: usize, p0: usize, mc: usize, kc: usize, alpha: f32, dst: *mut f32) {
    let mut q = 0;
    while q < mc {
        let rows = if mc - q < P { mc - q } else { P };
        let panel = dst.add(q * kc);
        if !trans {
            transpose_into_panel::<P>(a.add((i0 + q) * lda + p0), lda, rows, kc, alpha, panel);
        } else if rows == P && P % 4 == 0 {
            // A^T: each k gives P consecutive floats of a row of the stored A.
            let va = F4::splat(alpha);
            for p in 0..kc {
                let src = a.add((p0 + p) * lda + i0 + q);
                for v in 0..P / 4 {
                    F4::load(src.add(4 * v)).mul(va).store(panel.add(p * P + 4 * v));
                }
            }
        } else {
            for p in 0..kc {
                let src = a.add((p0 + p) * lda + i0 + q);
                for r in 0..rows {
                    *panel.add(p * P + r) = alpha * *src.add(r);
                }
            }
        }
        q += P;
    }
}

/// Packs op(B)[p0..p0+kc, j0..j0+nc] into W-column panels, k-major (W floats
/// per k). A short last panel is zero-padded to W columns.
unsafe fn pack_b<const W: usize>(trans: bool, b: *const f32, ldb: usize, p0: usize, j0: usize, kc: usize, nc: usize, dst: *mut f32) {
    let mut q = 0;
    while q < nc {
        let cols = if nc - q < W { nc - q } else { W };
        let panel = dst.add(q * kc);
        if !trans && cols == W {
            for p in 0..kc {
                let src = b.add((p0 + p) * ldb + j0 + q);
                let d = panel.add(p * W);
                for v in 0..W / 4 {
                    F4::load(src.add(4 * v)).store(d.add(4 * v));
                }
            }
        } else if trans {
            // op(B) column j is row j of the stored matrix: transpose rows into the panel.
            transpose_into_panel::<W>(b.add((j0 + q) * ldb + p0), ldb, cols, kc, 1.0, panel);
            for c in cols..W {
                for p in 0..kc {
                    *panel.add(p * W + c) = 0.0;
                }
            }
        } else {
            for p in 0..kc {
                let src = b.add((p0 + p) * ldb + j0 + q);
                let d = panel.add(p * W);
                for c in 0..cols {
                    *d.add(c) = *src.add(c);
                }
                for c in cols..W {
                    *d.add(c) = 0.0;
                }
            }
        }
        q += W;
    }
}

/// The microkernel: an R x 4V tile. A is a P-row packed panel (P floats per k,
/// the first R used); B advances `ldb` floats per k (W for a packed panel, N for
/// B read with a stride). Stores to `c` (row stride ldc), or adds when
/// `accumulate`; with EP, applies `ep` to what it stores.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<const R: usize, const V: usize, const P: usize, const EP: bool>(
    kc: usize, a: *const f32, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi,
) {
    micro_copying::<R, V, P, EP, false>(kc, a, b, ldb, core::ptr::null_mut(), c, ldc, accumulate, ep)
}

/// `micro` that, with COPY, also copies the kc x 4V panel of B it reads to
/// `copy` (4V floats per k): the same sums in the same order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_copying<const R: usize, const V: usize, const P: usize, const EP: bool, const COPY: bool>(
    kc: usize, a: *const f32, b: *const f32, ldb: usize, copy: *mut f32, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi,
) {
    let mut acc = [[F4::zero(); V]; R];
    let (mut a, mut b, mut d) = (a, b, copy);
    for _ in 0..kc {
        let mut bv = [F4::zero(); V];
        for (j, v) in bv.iter_mut().enumerate() {
            *v = F4::load(b.add(4 * j));
            if COPY {
                v.store(d.add(4 * j));
            }
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let av = F4::load_splat(a.add(i));
            for j in 0..V {
                row[j] = row[j].madd(av, bv[j]);
            }
        }
        a = a.add(P);
        b = b.add(ldb);
        if COPY {
            d = d.add(4 * V);
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let p = c.add(i * ldc + 4 * j);
            let o = if accumulate { F4::load(p).add(*v) } else { *v };
            if EP { ep.vector(o, j) } else { o }.store(p);
        }
    }
}

/// Runs the microkernel for a panel with `rows` <= P valid rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_rows<const V: usize, const P: usize, const EP: bool>(
    rows: usize, kc: usize, a: *const f32, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi,
) {
    match rows {
        4 if P >= 4 => micro::<4, V, P, EP>(kc, a, b, ldb, c, ldc, accumulate, ep),
        3 if P >= 3 => micro::<3, V, P, EP>(kc, a, b, ldb, c, ldc, accumulate, ep),
        2 if P >= 2 => micro::<2, V, P, EP>(kc, a, b, ldb, c, ldc, accumulate, ep),
        _ => micro::<1, V, P, EP>(kc, a, b, ldb, c, ldc, accumulate, ep),
    }
}

/// A tile at the right edge (cols < 4V valid columns): compute the full-width
/// tile on the stack (uninitialised: a zeroed temporary becomes a memset call)
/// from a zero-padded B panel, then store or add the valid part.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile<const V: usize, const P: usize, const EP: bool>(
    rows: usize, cols: usize, kc: usize, a: *const f32, b: *const f32, ldb: usize, c: *mut f32, ldc: usize,
    accumulate: bool, ep: Epi,
) {
    let mut tile: MaybeUninit<[f32; MAX_TILE]> = MaybeUninit::uninit();
    let t = tile.as_mut_ptr() as *mut f32;
    micro_rows::<V, P, false>(rows, kc, a, b, ldb, t, 4 * V, false, Epi::NONE);
    for r in 0..rows {
        for q in 0..cols {
            let dst = c.add(r * ldc + q);
            let v = *t.add(r * 4 * V + q);
            let o = if accumulate { *dst + v } else { v };
            *dst = if EP { ep.scalar(o, q) } else { o };
        }
    }
}

/// Packs op(B)[p0..p0+kc, j0..j0+cols] (B not transposed, cols a multiple of
/// W) into panels of W columns, k-major, reading B a row at a time: the lines
/// of one row segment fall into different L1 sets, where one line of each of
/// kc rows 4 KiB apart would all compete for the same set.
unsafe fn pack_block<const W: usize>(b: *const f32, ldb: usize, p0: usize, j0: usize, kc: usize, cols: usize, dst: *mut f32) {
    for p in 0..kc {
        // Pointers stepped along the row (an index times kc per step, or
        // offsets LLVM turns into `or`, cost more instructions than the copy).
        let mut src = b.add((p0 + p) * ldb + j0);
        let end = src.add(cols);
        let mut d = dst.add(p * W);
        while src != end {
            for v in 0..W / 4 {
                F4::load(src.add(4 * v)).store(d.add(4 * v));
            }
            src = src.add(W);
            d = d.add(kc * W);
        }
    }
}

/// Floats of B the line route brings into cache at a time (128 KiB, in L2).
const TOUCH_FLOATS: usize = 32768;
/// Where `touch` leaves its result, so that its loads are not optimised away.
static mut TOUCH_SINK: u32 = 0;

/// Columns `touch` reads ahead for a k block of depth kc: whole lines, TOUCH_FLOATS in all.
fn touch_cols(kc: usize) -> usize {
    let c = TOUCH_FLOATS / kc / LINE_COLS * LINE_COLS;
    if c < LINE_COLS { LINE_COLS } else { c }
}

/// Reads one float of each 64-byte line of B[0..kc][0..cols], a row at a time.
/// The line route then reads one line of every row per step: kc streams at a
/// 4 KiB stride, which the hardware prefetchers do not follow, so each line was
/// a cache miss waiting its turn. Row by row, the lines are runs the prefetchers
/// see, and they are in L2 when packed. Wasm has no prefetch instruction.
/// LeNet's conv1 as one GEMM: 1.02-1.04x scalar (SIMD packs long row runs instead).
unsafe fn touch(b: *const f32, ldb: usize, kc: usize, cols: usize) {
    let mut s = 0u32;
    for p in 0..kc {
        let row = b.add(p * ldb) as *const u32;
        let mut j = 0;
        while j < cols {
            s ^= *row.add(j);
            j += LINE_COLS;
        }
    }
    core::ptr::write_volatile(core::ptr::addr_of_mut!(TOUCH_SINK), s);
}

/// Scales the m x n matrix C (row stride ldc) by beta; beta == 0 writes zeros
/// (so NaN or garbage in C does not survive, as in BLAS).
unsafe fn scale(m: usize, n: usize, beta: f32, c: *mut f32, ldc: usize) {
    for i in 0..m {
        let row = c.add(i * ldc);
        for j in 0..n {
            *row.add(j) = if beta == 0.0 { 0.0 } else { beta * *row.add(j) };
        }
    }
}

/// C[0..mc, 0..cols] from packed A (MR-row panels) and B in NR-column panels
/// `kc * NR` floats apart (zero-padded past `cols`): MR x NR tiles.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_packed<const EP: bool>(
    mc: usize, kc: usize, pa: *const f32, pb: *const f32, cols: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi,
) {
    let mut jr = 0;
    while jr < cols {
        let w = if cols - jr < NR { cols - jr } else { NR };
        let panel_b = pb.add(jr * kc);
        let ep = ep.at(jr);
        let mut ir = 0;
        while ir < mc {
            let rows = if mc - ir < MR { mc - ir } else { MR };
            let cij = c.add(ir * ldc + jr);
            let ap = pa.add(ir * kc);
            if w == NR {
                micro_rows::<NV, MR, EP>(rows, kc, ap, panel_b, NR, cij, ldc, accumulate, ep);
            } else if NV > 1 && w == 4 {
                // One vector of columns: a tile one vector wide, stored in place.
                micro_rows::<1, MR, EP>(rows, kc, ap, panel_b, NR, cij, ldc, accumulate, ep);
            } else if NV > 1 && w < 4 {
                edge_tile::<1, MR, EP>(rows, w, kc, ap, panel_b, NR, cij, ldc, accumulate, ep);
            } else {
                edge_tile::<NV, MR, EP>(rows, w, kc, ap, panel_b, NR, cij, ldc, accumulate, ep);
            }
            ir += MR;
        }
        jr += NR;
    }
}

/// `tiles_packed` with the epilogue, a function of its own (see `Epi`).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_packed_ep(mc: usize, kc: usize, pa: *const f32, pb: *const f32, cols: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi) {
    tiles_packed::<true>(mc, kc, pa, pb, cols, c, ldc, accumulate, ep)
}

/// The tiles of a block with the epilogue when `ep` is Some (the last k block), else plain.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_packed_any(mc: usize, kc: usize, pa: *const f32, pb: *const f32, cols: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Option<Epi>) {
    match ep {
        Some(e) => tiles_packed_ep(mc, kc, pa, pb, cols, c, ldc, accumulate, e),
        None => tiles_packed::<false>(mc, kc, pa, pb, cols, c, ldc, accumulate, Epi::NONE),
    }
}

/// 2 x 16 tiles of rows ir0.., in pairs (a last single row alone), over one
/// 16-column panel of B (advancing ldb floats per k) into C at `c` (the
/// panel's first column, row 0).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_pairs<const EP: bool>(
    ir0: usize, mc: usize, kc: usize, pa: *const f32, b: *const f32, ldb: usize, c: *mut f32, ldc: usize, accumulate: bool, ep: Epi,
) {
    let mut ir = ir0;
    while ir < mc {
        // Rows ir, ir+1 sit in panel ir/MR at lane ir%MR.
        let ap = pa.add(ir / MR * MR * kc + ir % MR);
        let cij = c.add(ir * ldc);
        if mc - ir >= 2 {
            micro::<2, { DIRECT_NR / 4 }, MR, EP>(kc, ap, b, ldb, cij, ldc, accumulate, ep);
        } else {
            micro::<1, { DIRECT_NR / 4 }, MR, EP>(kc, ap, b, ldb, cij, ldc, accumulate, ep);
        }
        ir += 2;
    }
}

/// C[0..mc, 0..cols] (cols a multiple of 16) from packed A and B in 16-column
/// panels `pstride` floats apart, each advancing `ldb` floats per k: B in place
/// (pstride 16, ldb its row stride) or a packed block (pstride kc * 16, ldb 16).
/// 2 x 16 tiles, rows in pairs.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_2x16<const EP: bool>(
    mc: usize, kc: usize, pa: *const f32, b: *const f32, ldb: usize, pstride: usize, cols: usize, c: *mut f32, ldc: usize,
    accumulate: bool, ep: Epi,
) {
    let mut jr = 0;
    while jr < cols {
        let bj = b.add(jr / DIRECT_NR * pstride);
        row_pairs::<EP>(0, mc, kc, pa, bj, ldb, c.add(jr), ldc, accumulate, ep.at(jr));
        jr += DIRECT_NR;
    }
}

/// `tiles_2x16` for B read in place at a row stride that aliases in L1 (see
/// ALIAS_FLOATS), cols a multiple of 16. With one row pair B is read in place
/// (each line once); with more, the first pair's tile copies each 16-column
/// panel to `buf` (kc x 16, in L1) as it reads it, and the other pairs read the
/// copy: B is read once, without a packing pass of its own before the
/// arithmetic ([6x25]x[25x100352]: 1.32x over packing blocks of 128 KiB
/// first). When B does not stay in cache its first pair's pass runs as fast
/// as B streams from memory, and the other pairs' arithmetic does not overlap
/// it. Prefetching, packing ahead, splitting k, other tiles and skewed copies
/// were all slower: docs/benchmarks.md (gemm-conv1) lists each with its ratio.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_2x16_copy<const EP: bool>(
    mc: usize, kc: usize, pa: *const f32, b: *const f32, ldb: usize, cols: usize, buf: *mut f32, c: *mut f32, ldc: usize,
    accumulate: bool, ep: Epi,
) {
    if mc <= 2 {
        return tiles_2x16::<EP>(mc, kc, pa, b, ldb, DIRECT_NR, cols, c, ldc, accumulate, ep);
    }
    let mut jr = 0;
    while jr < cols {
        let ep = ep.at(jr);
        let cj = c.add(jr);
        micro_copying::<2, { DIRECT_NR / 4 }, MR, EP, true>(kc, pa, b.add(jr), ldb, buf, cj, ldc, accumulate, ep);
        row_pairs::<EP>(2, mc, kc, pa, buf, DIRECT_NR, cj, ldc, accumulate, ep);
        jr += DIRECT_NR;
    }
}

/// `tiles_2x16` with the epilogue when `ep` is Some, else plain.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles_2x16_any(
    mc: usize, kc: usize, pa: *const f32, b: *const f32, ldb: usize, pstride: usize, cols: usize, c: *mut f32, ldc: usize,
    accumulate: bool, ep: Option<Epi>,
) {
    match ep {
        Some(e) => tiles_2x16::<true>(mc, kc, pa, b, ldb, pstride, cols, c, ldc, accumulate, e),
        None => tiles_2x16::<false>(mc, kc, pa, b, ldb, pstride, cols, c, ldc, accumulate, Epi::NONE),
    }
}

/// Driver: blocks of C over packed A, each block of B read in place, packed a
/// block of columns at a time (line route) or packed whole. With `ep`, the
/// last k block applies it (see `Epi`).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_packed_b(
    trans_a: bool, trans_b: bool, m: usize, n: usize, k: usize, alpha: f32,
    a: *const f32, lda: usize, b: *const f32, ldb: usize, beta: f32, c: *mut f32, ldc: usize, ep: Option<Epi>,
) {
    let pa = core::ptr::addr_of_mut!(PACK_A) as *mut f32;
    let pb = core::ptr::addr_of_mut!(PACK_B) as *mut f32;
    let pl = core::ptr::addr_of_mut!(PACK_LINE) as *mut f32;
    let mut jc = 0;
    while jc < n {
        let nc = if n - jc < NC { n - jc } else { NC };
        let mut pc = 0;
        while pc < k {
            let kc = if k - pc < KC { k - pc } else { KC };
            let accumulate = pc > 0 || beta != 0.0;
            let ep = if pc + kc == k { ep.map(|e| e.at(jc)) } else { None };
            // Direct B: whole 16-column blocks are read in place; the rest is packed.
            let direct = if !trans_b && m <= DIRECT_B_MAX_M && ldb % ALIAS_FLOATS != 0 { nc / DIRECT_NR * DIRECT_NR } else { 0 };
            let lines = if direct == 0 && !trans_b && m <= LINE_MAX_M { nc / LINE_COLS * LINE_COLS } else { 0 };
            let skip = direct + lines;
            pack_b::<NR>(trans_b, b, ldb, pc, jc + skip, kc, nc - skip, pb);
            // Scalar build, B larger than L2: read each block ahead a row at a
            // time (see `touch`).
            let touch_n = if !LINE_2X16 && kc * n > 4 * TOUCH_FLOATS { touch_cols(kc) } else { 0 };
            let mut ic = 0;
            while ic < m {
                let mc = if m - ic < MC { m - ic } else { MC };
                pack_a::<MR>(trans_a, a, lda, ic, pc, mc, kc, alpha, pa);
                let ci = c.add(ic * ldc + jc);
                if direct > 0 {
                    tiles_2x16_any(mc, kc, pa, b.add(pc * ldb + jc), ldb, DIRECT_NR, direct, ci, ldc, accumulate, ep);
                }
                if LINE_2X16 && lines > 0 {
                    let bl = b.add(pc * ldb + jc);
                    match ep {
                        Some(e) => tiles_2x16_copy::<true>(mc, kc, pa, bl, ldb, lines, pl, ci, ldc, accumulate, e),
                        None => tiles_2x16_copy::<false>(mc, kc, pa, bl, ldb, lines, pl, ci, ldc, accumulate, Epi::NONE),
                    }
                }
                let mut jr = 0;
                while !LINE_2X16 && jr < lines {
                    if touch_n > 0 && jr % touch_n == 0 {
                        let cols = if lines - jr < touch_n { lines - jr } else { touch_n };
                        touch(b.add(pc * ldb + jc + jr), ldb, kc, cols);
                    }
                    pack_block::<NR>(b, ldb, pc, jc + jr, kc, LINE_COLS, pl);
                    tiles_packed_any(mc, kc, pa, pl, LINE_COLS, ci.add(jr), ldc, accumulate, ep.map(|e| e.at(jr)));
                    jr += LINE_COLS;
                }
                if nc > skip {
                    tiles_packed_any(mc, kc, pa, pb, nc - skip, ci.add(skip), ldc, accumulate, ep.map(|e| e.at(skip)));
                }
                ic += MC;
            }
            pc += KC;
        }
        jc += NC;
    }
}

/// C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C, all row-major.
/// op(A) = A^T when `trans_a` (A is then stored k x m with row stride lda), same for B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    trans_a: bool, trans_b: bool, m: usize, n: usize, k: usize, alpha: f32,
    a: *const f32, lda: usize, b: *const f32, ldb: usize, beta: f32, c: *mut f32, ldc: usize,
) {
    sgemm_epilogue(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, core::ptr::null(), false)
}

/// `sgemm`, then C[i][j] += bias[j] (bias may be null) and relu if `relu`,
/// applied as each tile of C is stored for the last time: one pass over C,
/// the same bits as sgemm followed by a bias pass and a relu pass.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_epilogue(
    trans_a: bool, trans_b: bool, m: usize, n: usize, k: usize, alpha: f32,
    a: *const f32, lda: usize, b: *const f32, ldb: usize, beta: f32, c: *mut f32, ldc: usize,
    bias: *const f32, relu: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let ep = if bias.is_null() && !relu { None } else { Some(Epi { bias, relu }) };
    if k == 0 || alpha == 0.0 {
        if beta != 1.0 {
            scale(m, n, beta, c, ldc);
        }
        if let Some(e) = ep {
            for i in 0..m {
                let row = c.add(i * ldc);
                for j in 0..n {
                    *row.add(j) = e.scalar(*row.add(j), j);
                }
            }
        }
        return;
    }
    // beta is applied once up front unless it is 0 (the first k block stores) or 1.
    if beta != 0.0 && beta != 1.0 {
        scale(m, n, beta, c, ldc);
    }
    gemm_packed_b(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)
}
