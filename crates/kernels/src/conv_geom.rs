//! What both convolution routes share (conv.rs: im2col + GEMM, and
//! conv_implicit.rs: implicit GEMM): the geometry, how images are grouped into
//! one GEMM, and the bias gradient, kept below both so that neither imports
//! the other for it.

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

/// GEMM columns one call should have at least: with small outputs (conv3 of
/// LeNet has OH*OW = 1) a per-image GEMM is a matrix-vector product, so images
/// are grouped until a GEMM has this many columns.
const TARGET_COLUMNS: usize = 200;

/// Images per GEMM: 1 when an image alone fills TARGET_COLUMNS.
#[inline]
pub fn group_size(g: &Geom) -> usize {
    let ohw = g.ohw().max(1);
    let want = (TARGET_COLUMNS + ohw - 1) / ohw;
    want.max(1).min(g.n.max(1))
}

/// dbias[f] = sum over images n0..n0+count of sum(dy[n][f]), added image by image
/// in order (the first image n0 = 0 overwrites): each image's F sums side by side,
/// each as `act::sum` computes it.
pub unsafe fn bias_grad(g: &Geom, dy: *const f32, n0: usize, count: usize, dbias: *mut f32) {
    let ohw = g.ohw();
    if n0 == 0 {
        crate::act::fill(dbias, g.f, 0.0);
    }
    if ohw == 1 {
        // Sums of one value (conv3 of LeNet): the images' rows added as vectors
        // across the filters. sum(v) is +0 + v, which differs from v only for
        // v = -0, and adding +0 or -0 to a sum that starts at +0 gives the same.
        crate::act::add_rows(dy.add(n0 * g.f), count, g.f, dbias);
        return;
    }
    for n in n0..n0 + count {
        crate::act::add_row_sums(dy.add(n * g.f * ohw), ohw, g.f, ohw, dbias);
    }
}
