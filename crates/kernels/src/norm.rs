//! Batch normalisation over channels. x is [N, C, S] with S = H*W for conv
//! feature maps (NCHW) and S = 1 for dense activations (NC). Statistics are per
//! channel over the N*S values.
//!
//! Running statistics follow PyTorch: r = (1 - momentum) * r + momentum * batch,
//! with the unbiased variance for running_var and the biased one for normalising.
//!
//! Every per-channel sum (mean, squared deviations, and backward's sums of dy
//! and dy * (x - mean)) has one fixed shape, set by N and S alone:
//!   1. each image's S values of the channel are summed in 16 chains (four
//!      f32x4 accumulators over blocks of 16 values, then a tail), the chains
//!      combined as ((a0 + a1) + (a2 + a3)) lane-wise, then lanes as F4::hsum;
//!   2. the N per-image sums are combined in the pairwise tree of `pairwise_rows`.
//! A long sequential chain over all N*S values (100,352 for LeNet's first
//! layer at batch 128) lost up to 2.5e-4 relative in the variance; this shape
//! keeps it near 1e-6.
//!
//! The training kernels are split at the sums so that data-parallel training
//! can run them on shards of the batch: each worker writes its images' sums
//! (`image_sums`, `image_sq_devs`, `backward_partials`) into one [N, C] table,
//! every worker combines the whole table with `pairwise_rows` (the same bits
//! everywhere), and goes on with `finish_stats`, `normalize` and
//! `backward_dx`. One worker runs the same kernels on the whole batch.

use crate::simd::F4;

/// One image's sum of f(i) over its s values in the fixed 16-chain shape; `f`
/// gives four consecutive values at once (`lane4`) or one (`one`).
#[inline(always)]
unsafe fn image_sum_by(s: usize, lane4: impl Fn(usize) -> F4, one: impl Fn(usize) -> f32) -> f32 {
    let mut a = [F4::zero(); 4];
    let mut i = 0;
    while i + 16 <= s {
        a[0] = a[0].add(lane4(i));
        a[1] = a[1].add(lane4(i + 4));
        a[2] = a[2].add(lane4(i + 8));
        a[3] = a[3].add(lane4(i + 12));
        i += 16;
    }
    while i + 4 <= s {
        a[0] = a[0].add(lane4(i));
        i += 4;
    }
    let mut t = (a[0].add(a[1])).add(a[2].add(a[3])).hsum();
    while i < s {
        t += one(i);
        i += 1;
    }
    t
}

/// sum of p[0..s).
#[inline(always)]
pub unsafe fn image_sum(p: *const f32, s: usize) -> f32 {
    image_sum_by(s, |i| F4::load(p.add(i)), |i| *p.add(i))
}

/// sum of (p[i] - mu)^2 over i < s.
#[inline(always)]
pub unsafe fn image_sq_dev(p: *const f32, s: usize, mu: f32) -> f32 {
    let vmu = F4::splat(mu);
    image_sum_by(
        s,
        |i| {
            let d = F4::load(p.add(i)).sub(vmu);
            d.mul(d)
        },
        |i| {
            let d = *p.add(i) - mu;
            d * d
        },
    )
}

/// sum of dy[i] * (x[i] - mu) over i < s.
#[inline(always)]
pub unsafe fn image_dot_dev(dy: *const f32, x: *const f32, s: usize, mu: f32) -> f32 {
    let vmu = F4::splat(mu);
    image_sum_by(s, |i| F4::load(dy.add(i)).mul(F4::load(x.add(i)).sub(vmu)), |i| *dy.add(i) * (*x.add(i) - mu))
}

/// y[i] = (x[i] - mu) * g + b over i < len.
#[inline(always)]
unsafe fn normalize(x: *const f32, y: *mut f32, len: usize, mu: f32, g: f32, b: f32) {
    let (vmu, vg, vb) = (F4::splat(mu), F4::splat(g), F4::splat(b));
    let mut i = 0;
    while i + 4 <= len {
        F4::load(x.add(i)).sub(vmu).mul(vg).add(vb).store(y.add(i));
        i += 4;
    }
    while i < len {
        *y.add(i) = (*x.add(i) - mu) * g + b;
        i += 1;
    }
}

/// dst[j] = the sum of column j of src [rows, cols] in the pairwise tree fixed
/// by `rows` alone: the rows split, from the first, into blocks of the powers
/// of two in rows' binary form (largest first); each block is summed as a
/// balanced tree (halves added, recursively); the blocks are then added from
/// the last (smallest) up: B0 + (B1 + (B2 + ...)). For rows a power of two it
/// is the balanced tree. This is the one way per-image and per-leaf partial
/// sums are combined, so every worker count gives the same bits.
/// src is overwritten (it serves as the scratch of the tree).
pub unsafe fn pairwise_rows(src: *mut f32, rows: usize, cols: usize, dst: *mut f32) {
    pairwise_rows_partial(src, rows, cols, core::ptr::null(), dst)
}

/// `pairwise_rows` with some subtrees already summed (by the workers that
/// own their rows, see parallel/shard.ts): cover[r] is the level of the summed
/// node row r belongs to (0: a row alone; t: an aligned node of 2^t rows
/// within one block, its value in its first row, the others not read). The
/// additions inside those nodes are skipped, the rest is the same tree, so
/// the result is the same bits as pairwise_rows on all the rows. Null: none.
pub unsafe fn pairwise_rows_partial(src: *mut f32, rows: usize, cols: usize, cover: *const i32, dst: *mut f32) {
    let row = |r: usize| src.add(r * cols);
    // Blocks of the binary decomposition, from the first row.
    let mut blocks = [(0usize, 0usize); 64];
    let (mut nb, mut start) = (0, 0);
    for bit in (0..usize::BITS as usize).rev() {
        let size = 1usize << bit;
        if rows & size != 0 {
            blocks[nb] = (start, size);
            nb += 1;
            start += size;
        }
    }
    for &(b0, size) in &blocks[..nb] {
        let (mut stride, mut level) = (1, 1);
        while stride < size {
            let mut i = b0;
            while i + stride < b0 + size {
                // The node of 2*stride rows at i, unless it lies inside a summed one.
                if cover.is_null() || (*cover.add(i) as usize) < level {
                    add_row(row(i), row(i + stride), cols);
                }
                i += 2 * stride;
            }
            stride *= 2;
            level += 1;
        }
    }
    if nb == 0 {
        crate::act::fill(dst, cols, 0.0);
        return;
    }
    // acc = last block; then each earlier block + acc.
    let acc = row(blocks[nb - 1].0);
    for k in (0..nb - 1).rev() {
        let left = row(blocks[k].0);
        add_row(left, acc, cols);
        core::ptr::copy(left, acc, cols);
    }
    core::ptr::copy(acc, dst, cols);
}

/// a[j] = a[j] + b[j].
#[inline(always)]
unsafe fn add_row(a: *mut f32, b: *const f32, cols: usize) {
    let mut j = 0;
    while j + 4 <= cols {
        F4::load(a.add(j)).add(F4::load(b.add(j))).store(a.add(j));
        j += 4;
    }
    while j < cols {
        *a.add(j) += *b.add(j);
        j += 1;
    }
}

/// mean[ci] = total[ci] / m (the batch mean from the channel totals).
pub unsafe fn divide(total: *const f32, m: usize, c: usize, mean: *mut f32) {
    for ci in 0..c {
        *mean.add(ci) = *total.add(ci) / m as f32;
    }
}

/// out[ni, ci] = sum of image ni's values of channel ci (for S = 1 the value itself).
pub unsafe fn image_sums(x: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    if s == 1 {
        core::ptr::copy_nonoverlapping(x, out, n * c);
        return;
    }
    for ni in 0..n {
        for ci in 0..c {
            *out.add(ni * c + ci) = image_sum(x.add((ni * c + ci) * s), s);
        }
    }
}

/// out[ni, ci] = sum of (x - mean[ci])^2 over image ni's values of channel ci.
pub unsafe fn image_sq_devs(x: *const f32, mean: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    for ni in 0..n {
        for ci in 0..c {
            let mu = *mean.add(ci);
            *out.add(ni * c + ci) = if s == 1 {
                let d = *x.add(ni * c + ci) - mu;
                d * d
            } else {
                image_sq_dev(x.add((ni * c + ci) * s), s, mu)
            };
        }
    }
}

/// From the channel totals of the squared deviations over m values: invstd and
/// the running statistics (mean already holds total / m).
#[allow(clippy::too_many_arguments)]
pub unsafe fn finish_stats(
    sq: *const f32, m: usize, c: usize, mean: *const f32, invstd: *mut f32,
    running_mean: *mut f32, running_var: *mut f32, momentum: f32, eps: f32,
) {
    for ci in 0..c {
        let mf = m as f32;
        let (mu, sq) = (*mean.add(ci), *sq.add(ci));
        let var = sq / mf;
        *invstd.add(ci) = 1.0 / (var + eps).sqrt();
        let unbiased = if m > 1 { sq / (mf - 1.0) } else { var };
        *running_mean.add(ci) = (1.0 - momentum) * *running_mean.add(ci) + momentum * mu;
        *running_var.add(ci) = (1.0 - momentum) * *running_var.add(ci) + momentum * unbiased;
    }
}

/// y = (x - mean) * (gamma * invstd) + beta, per channel.
#[allow(clippy::too_many_arguments)]
pub unsafe fn normalize_all(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32, mean: *const f32, invstd: *const f32,
    n: usize, c: usize, s: usize,
) {
    if s == 1 {
        for ni in 0..n {
            let (row, out) = (x.add(ni * c), y.add(ni * c));
            let mut j = 0;
            while j + 4 <= c {
                let g = F4::load(gamma.add(j)).mul(F4::load(invstd.add(j)));
                F4::load(row.add(j)).sub(F4::load(mean.add(j))).mul(g).add(F4::load(beta.add(j))).store(out.add(j));
                j += 4;
            }
            for j in j..c {
                let g = *gamma.add(j) * *invstd.add(j);
                *out.add(j) = (*row.add(j) - *mean.add(j)) * g + *beta.add(j);
            }
        }
        return;
    }
    for ci in 0..c {
        let (mu, g, b) = (*mean.add(ci), *gamma.add(ci) * *invstd.add(ci), *beta.add(ci));
        for ni in 0..n {
            let at = (ni * c + ci) * s;
            normalize(x.add(at), y.add(at), s, mu, g, b);
        }
    }
}

/// out[ni, 2ci] = sum of dy, out[ni, 2ci + 1] = sum of dy * (x - mean[ci]),
/// over image ni's values of channel ci.
pub unsafe fn backward_partials(x: *const f32, dy: *const f32, mean: *const f32, n: usize, c: usize, s: usize, out: *mut f32) {
    for ni in 0..n {
        for ci in 0..c {
            let mu = *mean.add(ci);
            let at = (ni * c + ci) * s;
            let o = out.add(ni * 2 * c + 2 * ci);
            if s == 1 {
                *o = *dy.add(at);
                *o.add(1) = *dy.add(at) * (*x.add(at) - mu);
            } else {
                *o = image_sum(dy.add(at), s);
                *o.add(1) = image_dot_dev(dy.add(at), x.add(at), s, mu);
            }
        }
    }
}

/// Inference forward with the running statistics.
pub unsafe fn forward_infer(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32,
    running_mean: *const f32, running_var: *const f32, n: usize, c: usize, s: usize, eps: f32,
) {
    if s == 1 {
        // NC: four channels across the lanes, each lane as act::affine computes
        // its channel (scale and shift as below, per lane): the same bits.
        let (one, ve) = (F4::splat(1.0), F4::splat(eps));
        let mut j = 0;
        while j + 4 <= c {
            let inv = one.div(F4::load(running_var.add(j)).add(ve).sqrt());
            let g = F4::load(gamma.add(j)).mul(inv);
            let shift = F4::load(beta.add(j)).sub(F4::load(running_mean.add(j)).mul(g));
            for ni in 0..n {
                let p = ni * c + j;
                F4::load(x.add(p)).mul(g).add(shift).store(y.add(p));
            }
            j += 4;
        }
        for j in j..c {
            let inv = 1.0 / (*running_var.add(j) + eps).sqrt();
            let g = *gamma.add(j) * inv;
            let shift = *beta.add(j) - *running_mean.add(j) * g;
            for ni in 0..n {
                *y.add(ni * c + j) = *x.add(ni * c + j) * g + shift;
            }
        }
        return;
    }
    for ci in 0..c {
        let inv = 1.0 / (*running_var.add(ci) + eps).sqrt();
        let g = *gamma.add(ci) * inv;
        let shift = *beta.add(ci) - *running_mean.add(ci) * g;
        for ni in 0..n {
            let (xp, yp) = (x.add((ni * c + ci) * s), y.add((ni * c + ci) * s));
            crate::act::affine(xp, yp, s, g, shift);
        }
    }
}

/// dx of the training forward from the channel totals (dbeta = sum dy,
/// dgamma = invstd * sum dy * (x - mean)) over m = N*S values of the whole batch:
///   xhat = (x - mean) * invstd,  dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma).
/// dx may alias dy.
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward_dx(
    x: *const f32, dy: *const f32, gamma: *const f32, mean: *const f32, invstd: *const f32,
    dbeta: *const f32, dgamma: *const f32, dx: *mut f32, n: usize, c: usize, s: usize, m: usize,
) {
    let mf = m as f32;
    if s == 1 {
        let mm = F4::splat(mf);
        for ni in 0..n {
            let (xr, gr, out) = (x.add(ni * c), dy.add(ni * c), dx.add(ni * c));
            let mut j = 0;
            while j + 4 <= c {
                let inv = F4::load(invstd.add(j));
                let k = F4::load(gamma.add(j)).mul(inv).div(mm);
                let xhat = F4::load(xr.add(j)).sub(F4::load(mean.add(j))).mul(inv);
                let v = mm.mul(F4::load(gr.add(j))).sub(F4::load(dbeta.add(j))).sub(xhat.mul(F4::load(dgamma.add(j))));
                k.mul(v).store(out.add(j));
                j += 4;
            }
            for j in j..c {
                let inv = *invstd.add(j);
                let k = *gamma.add(j) * inv / mf;
                let xhat = (*xr.add(j) - *mean.add(j)) * inv;
                *out.add(j) = k * (mf * *gr.add(j) - *dbeta.add(j) - xhat * *dgamma.add(j));
            }
        }
        return;
    }
    for ci in 0..c {
        let (mu, inv, db, dg) = (*mean.add(ci), *invstd.add(ci), *dbeta.add(ci), *dgamma.add(ci));
        let k = *gamma.add(ci) * inv / mf;
        let (vk, vm, vmu, vinv, vdb, vdg) = (F4::splat(k), F4::splat(mf), F4::splat(mu), F4::splat(inv), F4::splat(db), F4::splat(dg));
        for ni in 0..n {
            let at = (ni * c + ci) * s;
            let (xp, dyp, dxp) = (x.add(at), dy.add(at), dx.add(at));
            let mut i = 0;
            while i + 4 <= s {
                let xhat = F4::load(xp.add(i)).sub(vmu).mul(vinv);
                vk.mul(vm.mul(F4::load(dyp.add(i))).sub(vdb).sub(xhat.mul(vdg))).store(dxp.add(i));
                i += 4;
            }
            while i < s {
                let xhat = (*xp.add(i) - mu) * inv;
                *dxp.add(i) = k * (mf * *dyp.add(i) - db - xhat * dg);
                i += 1;
            }
        }
    }
}
