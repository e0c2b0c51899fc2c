//! Batch normalisation over channels. x is [N, C, S] with S = H*W for conv
//! feature maps (NCHW) and S = 1 for dense activations (NC). Statistics are per
//! channel over the N*S values; sums run in a fixed order (deterministic).
//!
//! Running statistics follow PyTorch: r = (1 - momentum) * r + momentum * batch,
//! with the unbiased variance for running_var and the biased one for normalising.

/// Training forward. Writes y, the batch mean and 1/sqrt(var + eps) per channel
/// (kept for backward), and updates the running statistics.
pub unsafe fn forward_train(
    x: *const f32, y: *mut f32, gamma: *const f32, beta: *const f32,
    mean: *mut f32, invstd: *mut f32, running_mean: *mut f32, running_var: *mut f32,
    n: usize, c: usize, s: usize, momentum: f32, eps: f32,
) {
    let m = (n * s) as f32;
    for ci in 0..c {
        let mut acc = 0.0f32;
        for ni in 0..n {
            acc += crate::act::sum(x.add((ni * c + ci) * s), s);
        }
        let mu = acc / m;
        let mut sq = 0.0f32;
        for ni in 0..n {
            let p = x.add((ni * c + ci) * s);
            for i in 0..s {
                let d = *p.add(i) - mu;
                sq += d * d;
            }
        }
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
pub unsafe fn backward(
    x: *const f32, dy: *const f32, gamma: *const f32, mean: *const f32, invstd: *const f32,
    dx: *mut f32, dgamma: *mut f32, dbeta: *mut f32, n: usize, c: usize, s: usize,
) {
    let m = (n * s) as f32;
    for ci in 0..c {
        let (mu, inv) = (*mean.add(ci), *invstd.add(ci));
        let (mut db, mut dg) = (0.0f32, 0.0f32);
        for ni in 0..n {
            let (xp, dyp) = (x.add((ni * c + ci) * s), dy.add((ni * c + ci) * s));
            for i in 0..s {
                let g = *dyp.add(i);
                db += g;
                dg += g * (*xp.add(i) - mu) * inv;
            }
        }
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
