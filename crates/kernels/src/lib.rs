//! The wasm surface of cnn-wasm: `#[no_mangle] extern "C"` wrappers only.
//!
//! Every function takes pointers into linear memory (as `usize` byte addresses
//! that TypeScript holds) and sizes; none allocates on the hot path. Shapes are
//! validated in TypeScript before a call, so these wrappers do not re-check.
//! Booleans cross the boundary as `i32` (0 = false).

pub mod act;
pub mod conv;
pub mod conv_geom;
pub mod conv_implicit;
pub mod gemm;
pub mod loss;
pub mod norm;
pub mod optim;
pub mod pool;
pub mod rng;
pub mod simd;

use std::alloc::{alloc as sys_alloc, dealloc, Layout};

const ALIGN: usize = 64;

/// Allocates `bytes` bytes on a 64-byte (cache line) boundary; returns 0 on failure or bytes == 0.
#[no_mangle]
pub extern "C" fn alloc(bytes: usize) -> usize {
    if bytes == 0 {
        return 0;
    }
    match Layout::from_size_align(bytes, ALIGN) {
        Ok(layout) => unsafe { sys_alloc(layout) as usize },
        Err(_) => 0,
    }
}

/// Frees a block returned by `alloc(bytes)`; `bytes` must be the same size.
#[no_mangle]
pub extern "C" fn free(ptr: usize, bytes: usize) {
    if ptr == 0 || bytes == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes, ALIGN) {
        unsafe { dealloc(ptr as *mut u8, layout) }
    }
}

/// `iters` rounds of acc = step(acc) on 12 independent vector accumulators
/// (12 chains hide the latency; 96 FLOP per round). Returns a sum so nothing
/// is optimised away.
#[inline(always)]
fn peak_chains(iters: u32, step: impl Fn(simd::F4) -> simd::F4) -> f32 {
    use simd::F4;
    let mut acc = [F4::splat(1.0); 12];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = step(*a);
        }
    }
    let mut t = F4::zero();
    for a in acc.iter() {
        t = t.add(*a);
    }
    t.hsum()
}

/// The machine's f32x4 multiply-add peak, for benchmarks: acc = acc * m + c,
/// a multiply, then an add, in every build.
#[no_mangle]
pub extern "C" fn peak_madd(iters: u32, m: f32, c: f32) -> f32 {
    let (vm, vc) = (simd::F4::splat(m), simd::F4::splat(c));
    peak_chains(iters, |a| a.mul(vm).add(vc))
}

/// The same peak through `F4::madd`, as the GEMM's inner loop multiplies and
/// adds: acc = c + acc * m, fused in the relaxed build (its peak), a multiply
/// then an add in the others (the same work as `peak_madd`).
#[no_mangle]
pub extern "C" fn peak_fma(iters: u32, m: f32, c: f32) -> f32 {
    let (vm, vc) = (simd::F4::splat(m), simd::F4::splat(c));
    peak_chains(iters, |a| vc.madd(a, vm))
}

/// 1 when this build fuses multiply-adds with relaxed SIMD, else 0.
#[no_mangle]
pub extern "C" fn relaxed_enabled() -> i32 {
    simd::RELAXED as i32
}

/// 1 when this build was compiled with SIMD128, else 0.
#[no_mangle]
pub extern "C" fn simd_enabled() -> i32 {
    simd::SIMD as i32
}

/// Version of the wasm surface; TypeScript refuses a build whose ABI differs.
#[no_mangle]
pub extern "C" fn abi_version() -> i32 {
    6
}

/// C = alpha * op(A) * op(B) + beta * C (row-major; see gemm::sgemm).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sgemm(
    trans_a: i32,
    trans_b: i32,
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
    gemm::sgemm(trans_a != 0, trans_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

/// A dense layer in one pass over y: y [n, u] = x [n, d] . w [d, u] + bias [u]
/// (bias may be 0), then relu if `relu` != 0, applied as the GEMM stores each
/// tile for the last time. Same bits as sgemm, bias_add_rows, relu_forward.
#[no_mangle]
pub unsafe extern "C" fn dense_forward(x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, n: usize, d: usize, u: usize, relu: i32) {
    gemm::sgemm_epilogue(false, false, n, u, d, 1.0, x, d, w, u, 0.0, y, u, bias, relu != 0)
}

// ---------------------------------------------------------------- convolution

#[allow(clippy::too_many_arguments)]
fn geom(n: usize, c: usize, h: usize, w: usize, f: usize, kh: usize, kw: usize, sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize) -> conv_geom::Geom {
    conv_geom::Geom { n, c, h, w, f, kh, kw, sh, sw, ph, pw, oh, ow }
}

/// Floats of workspace conv2d_forward / conv2d_backward need for this geometry;
/// `keep` != 0: room to keep the whole batch's im2col matrices for backward
/// (geometries the implicit route handles need no im2col matrices at all).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn conv2d_workspace_len(
    n: usize, c: usize, h: usize, wd: usize, f: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize, keep: i32,
) -> usize {
    conv::workspace_len(&geom(n, c, h, wd, f, kh, kw, sh, sw, ph, pw, oh, ow), keep != 0)
}

/// y [N,F,OH,OW] = conv2d(x [N,C,H,W], w [F,C,KH,KW]) + bias [F] (bias may be 0),
/// then relu if `relu` != 0, applied as each output is stored for the last time.
/// `cols` is a workspace of conv2d_workspace_len(.., keep) floats; with keep != 0
/// the im2col matrices stay there for conv2d_backward(.., cached = 1).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn conv2d_forward(
    x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, cols: *mut f32,
    n: usize, c: usize, h: usize, wd: usize, f: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize, keep: i32, relu: i32,
) {
    conv::forward(&geom(n, c, h, wd, f, kh, kw, sh, sw, ph, pw, oh, ow), x, w, bias, y, cols, keep != 0, relu != 0)
}

/// Floats of workspace conv2d_forward_pool2 needs for this geometry (of the
/// convolution), or 0 when it does not apply (use conv2d_forward, then pooling).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn conv2d_pool2_workspace_len(
    n: usize, c: usize, h: usize, wd: usize, f: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize,
) -> usize {
    conv::pool2_workspace_len(&geom(n, c, h, wd, f, kh, kw, sh, sw, ph, pw, oh, ow))
}

/// Inference: y [N,F,OH/2,OW/2] = 2x2 max pooling (stride 2) of conv2d_forward's
/// output (relu if `relu` != 0), which is never written out. Only where
/// conv2d_pool2_workspace_len is not 0; `work` holds that many floats.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn conv2d_forward_pool2(
    x: *const f32, w: *const f32, bias: *const f32, y: *mut f32, work: *mut f32,
    n: usize, c: usize, h: usize, wd: usize, f: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize, relu: i32,
) {
    conv::forward_pool2(&geom(n, c, h, wd, f, kh, kw, sh, sw, ph, pw, oh, ow), x, w, bias, y, work, relu != 0)
}

/// Gradients of conv2d_forward: dw and dbias (may be 0) are overwritten; dx is
/// overwritten unless 0. `cols` is a workspace of conv2d_workspace_len(.., cached)
/// floats; cached != 0 reuses the im2col matrices a keep != 0 forward left there.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn conv2d_backward(
    x: *const f32, w: *const f32, dy: *const f32, dx: *mut f32, dw: *mut f32, dbias: *mut f32, cols: *mut f32,
    n: usize, c: usize, h: usize, wd: usize, f: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize, cached: i32,
) {
    conv::backward(&geom(n, c, h, wd, f, kh, kw, sh, sw, ph, pw, oh, ow), x, w, dy, dx, dw, dbias, cols, cached != 0)
}

/// im2col of one image x [C,H,W] into cols [C*KH*KW, OH*OW].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn im2col(
    x: *const f32, cols: *mut f32, c: usize, h: usize, wd: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize,
) {
    conv::im2col(&geom(1, c, h, wd, 0, kh, kw, sh, sw, ph, pw, oh, ow), x, cols, oh * ow)
}

/// dx [C,H,W] += col2im(dcols [C*KH*KW, OH*OW]) for one image.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn col2im(
    dcols: *const f32, dx: *mut f32, c: usize, h: usize, wd: usize, kh: usize, kw: usize,
    sh: usize, sw: usize, ph: usize, pw: usize, oh: usize, ow: usize,
) {
    conv::col2im(&geom(1, c, h, wd, 0, kh, kw, sh, sw, ph, pw, oh, ow), dcols, oh * ow, dx)
}

// -------------------------------------------------------------------- pooling

/// Max pooling over `planes` = N*C planes; argmax (i32) gets in-plane indices.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
// argmax may be 0 (inference): the values alone.
pub unsafe extern "C" fn maxpool2d_forward(
    x: *const f32, y: *mut f32, argmax: *mut i32, planes: usize, h: usize, w: usize,
    kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    pool::max_forward(x, y, argmax, planes, h, w, kh, kw, sh, sw, oh, ow)
}

/// dx = scatter of dy to the recorded argmax cells (dx overwritten).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn maxpool2d_backward(dy: *const f32, argmax: *const i32, dx: *mut f32, planes: usize, h: usize, w: usize, oh: usize, ow: usize) {
    pool::max_backward(dy, argmax, dx, planes, h, w, oh, ow)
}

/// Average pooling over `planes` planes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn avgpool2d_forward(
    x: *const f32, y: *mut f32, planes: usize, h: usize, w: usize,
    kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    pool::avg_forward(x, y, planes, h, w, kh, kw, sh, sw, oh, ow)
}

/// Gradient of average pooling (dx overwritten).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn avgpool2d_backward(
    dy: *const f32, dx: *mut f32, planes: usize, h: usize, w: usize,
    kh: usize, kw: usize, sh: usize, sw: usize, oh: usize, ow: usize,
) {
    pool::avg_backward(dy, dx, planes, h, w, kh, kw, sh, sw, oh, ow)
}

/// Constant padding of `planes` planes: [h,w] placed at (top,left) inside [oh,ow], the rest `value`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pad2d_forward(x: *const f32, y: *mut f32, planes: usize, h: usize, w: usize, top: usize, left: usize, oh: usize, ow: usize, value: f32) {
    pool::pad_forward(x, y, planes, h, w, top, left, oh, ow, value)
}

/// Gradient of zero padding: the crop of dy.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pad2d_backward(dy: *const f32, dx: *mut f32, planes: usize, h: usize, w: usize, top: usize, left: usize, oh: usize, ow: usize) {
    pool::pad_backward(dy, dx, planes, h, w, top, left, oh, ow)
}

// ---------------------------------------------------------------- element-wise

#[no_mangle]
pub unsafe extern "C" fn relu_forward(x: *const f32, y: *mut f32, len: usize) {
    act::relu_forward(x, y, len)
}

#[no_mangle]
pub unsafe extern "C" fn relu_backward(y: *const f32, dy: *const f32, dx: *mut f32, len: usize) {
    act::relu_backward(y, dy, dx, len)
}

#[no_mangle]
pub unsafe extern "C" fn bias_add_rows(y: *mut f32, bias: *const f32, rows: usize, cols: usize) {
    act::bias_add_rows(y, bias, rows, cols)
}

#[no_mangle]
pub unsafe extern "C" fn bias_grad_rows(dy: *const f32, dbias: *mut f32, rows: usize, cols: usize) {
    act::bias_grad_rows(dy, dbias, rows, cols)
}

/// Inverted dropout; the 64-bit stream seed is passed as two u32 halves, and
/// `offset` is the index of x[0] in the whole batch (0 unless x is a shard).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn dropout_forward(x: *const f32, y: *mut f32, mask: *mut f32, len: usize, keep: f32, seed_lo: u32, seed_hi: u32, offset: usize) {
    act::dropout_forward(x, y, mask, len, keep, (seed_hi as u64) << 32 | seed_lo as u64, offset)
}

/// dst = a * b element-wise.
#[no_mangle]
pub unsafe extern "C" fn mul(a: *const f32, b: *const f32, dst: *mut f32, len: usize) {
    act::mul(a, b, dst, len)
}

#[no_mangle]
pub unsafe extern "C" fn fill(p: *mut f32, len: usize, v: f32) {
    act::fill(p, len, v)
}

/// y[i] = table[x[i]] for u8 x and a 256-float table.
#[no_mangle]
pub unsafe extern "C" fn lut_u8(x: *const u8, table: *const f32, y: *mut f32, len: usize) {
    act::lut_u8(x, table, y, len)
}

/// y = x * scale + shift.
#[no_mangle]
pub unsafe extern "C" fn affine(x: *const f32, y: *mut f32, len: usize, scale: f32, shift: f32) {
    act::affine(x, y, len, scale, shift)
}

// ------------------------------------------------------------- normalisation

// Training batch norm in steps (norm.rs): per-image sums, combined by
// pairwise_rows (possibly across workers), then statistics and outputs.

/// dst[j] = pairwise tree over the rows of src [rows, cols]; src is overwritten.
#[no_mangle]
pub unsafe extern "C" fn pairwise_rows(src: *mut f32, rows: usize, cols: usize, dst: *mut f32) {
    norm::pairwise_rows(src, rows, cols, dst)
}

/// pairwise_rows with aligned subtrees already summed: cover [rows] (i32) gives
/// each row's summed node level (see norm::pairwise_rows_partial).
#[no_mangle]
pub unsafe extern "C" fn pairwise_rows_partial(src: *mut f32, rows: usize, cols: usize, cover: *const i32, dst: *mut f32) {
    norm::pairwise_rows_partial(src, rows, cols, cover, dst)
}

#[no_mangle]
pub unsafe extern "C" fn batchnorm_image_sums(x: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    norm::image_sums(x, n, c, s, out)
}

#[no_mangle]
pub unsafe extern "C" fn batchnorm_mean(total: *const f32, m: usize, c: usize, mean: *mut f32) {
    norm::divide(total, m, c, mean)
}

#[no_mangle]
pub unsafe extern "C" fn batchnorm_image_sq_devs(x: *const f32, mean: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    norm::image_sq_devs(x, mean, n, c, s, out)
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn batchnorm_finish_stats(
    sq: *const f32, m: usize, c: usize, mean: *const f32, invstd: *mut f32,
    running_mean: *mut f32, running_var: *mut f32, momentum: f32, eps: f32,
) {
    norm::finish_stats(sq, m, c, mean, invstd, running_mean, running_var, momentum, eps)
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn batchnorm_normalize(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32, mean: *const f32, invstd: *const f32,
    n: usize, c: usize, s: usize,
) {
    norm::normalize_all(x, y, gamma, beta, mean, invstd, n, c, s)
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn batchnorm_forward_infer(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32, running_mean: *const f32,
    running_var: *const f32, n: usize, c: usize, s: usize, eps: f32,
) {
    norm::forward_infer(x, y, gamma, beta, running_mean, running_var, n, c, s, eps)
}

#[no_mangle]
pub unsafe extern "C" fn batchnorm_backward_partials(x: *const f32, dy: *const f32, mean: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    norm::backward_partials(x, dy, mean, n, c, s, out)
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn batchnorm_backward_dx(
    x: *const f32, dy: *const f32, gamma: *const f32, mean: *const f32, invstd: *const f32,
    dbeta: *const f32, dgamma: *const f32, dx: *mut f32, n: usize, c: usize, s: usize, m: usize,
) {
    norm::backward_dx(x, dy, gamma, mean, invstd, dbeta, dgamma, dx, n, c, s, m)
}

// ----------------------------------------------------------------------- loss

#[no_mangle]
pub unsafe extern "C" fn softmax(logits: *const f32, probs: *mut f32, n: usize, k: usize) {
    loss::softmax(logits, probs, n, k)
}

/// Mean softmax cross-entropy; writes dlogits. Labels are i32 in 0..k.
#[no_mangle]
pub unsafe extern "C" fn softmax_xent(logits: *const f32, labels: *const i32, dlogits: *mut f32, n: usize, k: usize) -> f32 {
    loss::softmax_xent(logits, labels, dlogits, n, k)
}

/// Per-row cross-entropy losses and dlogits scaled by inv_n (1 / whole batch size).
#[no_mangle]
pub unsafe extern "C" fn softmax_xent_rows(logits: *const f32, labels: *const i32, dlogits: *mut f32, losses: *mut f32, n: usize, k: usize, inv_n: f32) {
    loss::softmax_xent_rows(logits, labels, dlogits, losses, n, k, inv_n)
}

#[no_mangle]
pub unsafe extern "C" fn argmax_rows(x: *const f32, out: *mut i32, n: usize, k: usize) {
    loss::argmax_rows(x, out, n, k)
}

// ----------------------------------------------------------------- optimisers

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sgd_update(w: *mut f32, g: *const f32, v: *mut f32, len: usize, lr: f32, momentum: f32, weight_decay: f32, nesterov: i32) {
    optim::sgd(w, g, v, len, lr, momentum, weight_decay, nesterov != 0)
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn adam_update(
    w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32, len: usize, lr: f32, beta1: f32, beta2: f32,
    eps: f32, weight_decay: f32, decoupled: i32, bias_correction1: f32, bias_correction2: f32,
) {
    optim::adam(w, g, m, v, len, lr, beta1, beta2, eps, weight_decay, decoupled != 0, bias_correction1, bias_correction2)
}
