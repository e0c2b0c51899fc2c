//! Batch normalisation over channels. x is [N, C, S] with S = H*W for conv
//! feature maps (NCHW) and S = 1 for dense activations (NC). Statistics are per
//! channel over the N*S values; sums run in a fixed order (deterministic).
//!
//! Running statistics follow PyTorch: r = (1 - momentum) * r + momentum * batch,
//! with the unbiased variance for running_var and the biased one for normalising.

use crate::simd::F4;

/// Channels summed side by side. Each channel's sums still run over its own
/// values in order (so the bits are those of one channel at a time), but CB
/// independent chains keep the adder busy where a single chain waits out the
/// add latency at every value: the statistics of LeNet's first batch norm
/// (100,352 values per channel) took most of its time that way. Measured on
/// LeNet's shapes: 8 (6 for six channels) beat blocks of 3 or 4 by 10-25%.
const CB: usize = 8;

/// Training forward. Writes y, the batch mean and 1/sqrt(var + eps) per channel
/// (kept for backward), and updates the running statistics.
#[allow(clippy::too_many_arguments)]
pub unsafe fn forward_train(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32,
    mean: *mut f32, invstd: *mut f32, running_mean: *mut f32, running_var: *mut f32,
    n: usize, c: usize, s: usize, momentum: f32, eps: f32,
) {
    if s == 1 {
        return forward_train_nc(x, y, gamma, beta, mean, invstd, running_mean, running_var, n, c, momentum, eps);
    }
    let mut c0 = 0;
    while c0 < c {
        let p = (x, y, gamma, beta, mean, invstd, running_mean, running_var);
        let k = match c - c0 {
            r if r >= CB => CB,
            6 | 7 => 6,
            4 | 5 => 4,
            r => r,
        };
        match k {
            1 => forward_train_block::<1>(p, n, c, s, c0, momentum, eps),
            2 => forward_train_block::<2>(p, n, c, s, c0, momentum, eps),
            3 => forward_train_block::<3>(p, n, c, s, c0, momentum, eps),
            4 => forward_train_block::<4>(p, n, c, s, c0, momentum, eps),
            6 => forward_train_block::<6>(p, n, c, s, c0, momentum, eps),
            _ => forward_train_block::<CB>(p, n, c, s, c0, momentum, eps),
        }
        c0 += k;
    }
}

type TrainPtrs = (*const f32, *mut f32, *const f32, *const f32, *mut f32, *mut f32, *mut f32, *mut f32);

/// forward_train for channels c0..c0+K.
#[inline(always)]
unsafe fn forward_train_block<const K: usize>(p: TrainPtrs, n: usize, c: usize, s: usize, c0: usize, momentum: f32, eps: f32) {
    let (x, y, gamma, beta, mean, invstd, running_mean, running_var) = p;
    let m = (n * s) as f32;
    // mu[j] = (sum over images of act::sum of channel c0+j) / m; with whole
    // vectors per image the K channels' sums run side by side (BN1 of LeNet:
    // 1.5x), while for S < 4 (dense activations) there is nothing to overlap.
    let mut mu = [0.0f32; K];
    for ni in 0..n {
        if s >= 4 {
            crate::act::add_row_sums(x.add((ni * c + c0) * s), s, K, s, mu.as_mut_ptr());
        } else {
            for (j, mu) in mu.iter_mut().enumerate() {
                *mu += crate::act::sum(x.add((ni * c + c0 + j) * s), s);
            }
        }
    }
    for mu in mu.iter_mut() {
        *mu /= m;
    }
    let mut sq = [0.0f32; K];
    for ni in 0..n {
        let xp = x.add((ni * c + c0) * s);
        for i in 0..s {
            for j in 0..K {
                let d = *xp.add(j * s + i) - mu[j];
                sq[j] += d * d;
            }
        }
    }
    for j in 0..K {
        let ci = c0 + j;
        let (mu, sq) = (mu[j], sq[j]);
        let var = sq / m;
        let inv = 1.0 / (var + eps).sqrt();
        *mean.add(ci) = mu;
        *invstd.add(ci) = inv;
        let unbiased = if n * s > 1 { sq / (m - 1.0) } else { var };
        *running_mean.add(ci) = (1.0 - momentum) * *running_mean.add(ci) + momentum * mu;
        *running_var.add(ci) = (1.0 - momentum) * *running_var.add(ci) + momentum * unbiased;
        let (g, b) = (*gamma.add(ci) * inv, *beta.add(ci));
        for ni in 0..n {
            let (xp, yp) = (x.add((ni * c + ci) * s), y.add((ni * c + ci) * s));
            for i in 0..s {
                *yp.add(i) = (*xp.add(i) - mu) * g + b;
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

/// Backward of the training forward:
///   xhat = (x - mean) * invstd, dbeta = sum(dy), dgamma = sum(dy * xhat),
///   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma),  M = N*S.
/// dx may alias dy.
#[allow(clippy::too_many_arguments)]
pub unsafe fn backward(
    x: *const f32, dy: *const f32, gamma: *const f32, mean: *const f32, invstd: *const f32,
    dx: *mut f32, dgamma: *mut f32, dbeta: *mut f32, n: usize, c: usize, s: usize,
) {
    if s == 1 {
        return backward_nc(x, dy, gamma, mean, invstd, dx, dgamma, dbeta, n, c);
    }
    let mut c0 = 0;
    while c0 < c {
        let p = (x, dy, gamma, mean, invstd, dx, dgamma, dbeta);
        let k = if c - c0 < CB_BACK { c - c0 } else { CB_BACK };
        match k {
            1 => backward_block::<1>(p, n, c, s, c0),
            2 => backward_block::<2>(p, n, c, s, c0),
            _ => backward_block::<CB_BACK>(p, n, c, s, c0),
        }
        c0 += k;
    }
}

/// Channels side by side in backward. Each value costs seven operations here
/// (against four in forward's variance), so two chains already keep the core
/// busy; more measured slower (3: -5%, 4: -15% against 2).
const CB_BACK: usize = 2;

type BackPtrs = (*const f32, *const f32, *const f32, *const f32, *const f32, *mut f32, *mut f32, *mut f32);

/// backward for channels c0..c0+K (sums side by side, as forward_train_block).
#[inline(always)]
unsafe fn backward_block<const K: usize>(p: BackPtrs, n: usize, c: usize, s: usize, c0: usize) {
    let (x, dy, gamma, mean, invstd, dx, dgamma, dbeta) = p;
    let m = (n * s) as f32;
    let mut mu = [0.0f32; K];
    let mut inv = [0.0f32; K];
    for j in 0..K {
        mu[j] = *mean.add(c0 + j);
        inv[j] = *invstd.add(c0 + j);
    }
    let (mut db, mut dg) = ([0.0f32; K], [0.0f32; K]);
    for ni in 0..n {
        let (xp, dyp) = (x.add((ni * c + c0) * s), dy.add((ni * c + c0) * s));
        for i in 0..s {
            for j in 0..K {
                let g = *dyp.add(j * s + i);
                db[j] += g;
                dg[j] += g * (*xp.add(j * s + i) - mu[j]) * inv[j];
            }
        }
    }
    for j in 0..K {
        let ci = c0 + j;
        let (mu, inv, db, dg) = (mu[j], inv[j], db[j], dg[j]);
        *dbeta.add(ci) = db;
        *dgamma.add(ci) = dg;
        let k = *gamma.add(ci) * inv / m;
        for ni in 0..n {
            let (xp, dyp, dxp) = (x.add((ni * c + ci) * s), dy.add((ni * c + ci) * s), dx.add((ni * c + ci) * s));
            for i in 0..s {
                let xhat = (*xp.add(i) - mu) * inv;
                *dxp.add(i) = k * (m * *dyp.add(i) - db - xhat * dg);
            }
        }
    }
}

/// forward_train for NC activations (S = 1): a channel's values are a column
/// of x, so its sums run down the rows while four channels fill the lanes.
/// Per channel the same operations in the same order as forward_train_block
/// (there sum(v) over one value is +0 + v, which only differs from v for -0,
/// and a sum from +0 cannot tell the two apart): the same bits.
#[allow(clippy::too_many_arguments)]
unsafe fn forward_train_nc(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32,
    mean: *mut f32, invstd: *mut f32, running_mean: *mut f32, running_var: *mut f32,
    n: usize, c: usize, momentum: f32, eps: f32,
) {
    let m = n as f32;
    // mean and invstd hold the sums while they run.
    crate::act::fill(mean, c, 0.0);
    crate::act::add_rows(x, n, c, mean);
    for j in 0..c {
        *mean.add(j) /= m;
    }
    crate::act::fill(invstd, c, 0.0);
    for ni in 0..n {
        let row = x.add(ni * c);
        let mut j = 0;
        while j + 4 <= c {
            let d = F4::load(row.add(j)).sub(F4::load(mean.add(j)));
            F4::load(invstd.add(j)).add(d.mul(d)).store(invstd.add(j));
            j += 4;
        }
        for j in j..c {
            let d = *row.add(j) - *mean.add(j);
            *invstd.add(j) += d * d;
        }
    }
    for j in 0..c {
        let (mu, sq) = (*mean.add(j), *invstd.add(j));
        let var = sq / m;
        *invstd.add(j) = 1.0 / (var + eps).sqrt();
        let unbiased = if n > 1 { sq / (m - 1.0) } else { var };
        *running_mean.add(j) = (1.0 - momentum) * *running_mean.add(j) + momentum * mu;
        *running_var.add(j) = (1.0 - momentum) * *running_var.add(j) + momentum * unbiased;
    }
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
}

/// backward for NC activations (S = 1), four channels across the lanes, each
/// channel's sums down the rows in backward_block's order: the same bits.
#[allow(clippy::too_many_arguments)]
unsafe fn backward_nc(
    x: *const f32, dy: *const f32, gamma: *const f32, mean: *const f32, invstd: *const f32,
    dx: *mut f32, dgamma: *mut f32, dbeta: *mut f32, n: usize, c: usize,
) {
    let m = n as f32;
    crate::act::fill(dbeta, c, 0.0);
    crate::act::fill(dgamma, c, 0.0);
    for ni in 0..n {
        let (xr, gr) = (x.add(ni * c), dy.add(ni * c));
        let mut j = 0;
        while j + 4 <= c {
            let g = F4::load(gr.add(j));
            F4::load(dbeta.add(j)).add(g).store(dbeta.add(j));
            let t = g.mul(F4::load(xr.add(j)).sub(F4::load(mean.add(j)))).mul(F4::load(invstd.add(j)));
            F4::load(dgamma.add(j)).add(t).store(dgamma.add(j));
            j += 4;
        }
        for j in j..c {
            let g = *gr.add(j);
            *dbeta.add(j) += g;
            *dgamma.add(j) += g * (*xr.add(j) - *mean.add(j)) * *invstd.add(j);
        }
    }
    let mm = F4::splat(m);
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
            let k = *gamma.add(j) * inv / m;
            let xhat = (*xr.add(j) - *mean.add(j)) * inv;
            *out.add(j) = k * (m * *gr.add(j) - *dbeta.add(j) - xhat * *dgamma.add(j));
        }
    }
}
