//! Softmax and fused softmax + cross-entropy over rows of logits [N, K].

/// The largest of the k values at `x` (the shift that keeps exp() finite).
#[inline]
unsafe fn row_max(x: *const f32, k: usize) -> f32 {
    let mut mx = *x;
    for j in 1..k {
        if *x.add(j) > mx {
            mx = *x.add(j);
        }
    }
    mx
}

/// probs[r] = softmax(logits[r]) (max-subtracted for stability). May alias.
pub unsafe fn softmax(logits: *const f32, probs: *mut f32, n: usize, k: usize) {
    for r in 0..n {
        let (x, p) = (logits.add(r * k), probs.add(r * k));
        let mx = row_max(x, k);
        let mut s = 0.0f32;
        for j in 0..k {
            let e = (*x.add(j) - mx).exp();
            *p.add(j) = e;
            s += e;
        }
        let inv = 1.0 / s;
        for j in 0..k {
            *p.add(j) *= inv;
        }
    }
}

/// One row's cross-entropy -log softmax(x)[label]; writes d = (softmax - onehot) * inv_n.
#[inline(always)]
unsafe fn row_xent(x: *const f32, label: usize, d: *mut f32, k: usize, inv_n: f32) -> f32 {
    let mx = row_max(x, k);
    let mut s = 0.0f32;
    for j in 0..k {
        s += (*x.add(j) - mx).exp();
    }
    // -log softmax[label] = log(sum) - (x[label] - max)
    let loss = s.ln() - (*x.add(label) - mx);
    let inv = 1.0 / s;
    for j in 0..k {
        let pj = (*x.add(j) - mx).exp() * inv;
        *d.add(j) = (pj - if j == label { 1.0 } else { 0.0 }) * inv_n;
    }
    loss
}

/// Mean cross-entropy of softmax(logits) against integer labels; writes
/// dlogits = (softmax - onehot) / N (may alias logits) and returns the loss.
/// Labels are checked in TypeScript to lie in 0..k.
pub unsafe fn softmax_xent(logits: *const f32, labels: *const i32, dlogits: *mut f32, n: usize, k: usize) -> f32 {
    let mut total = 0.0f64;
    let inv_n = 1.0 / n as f32;
    for r in 0..n {
        total += row_xent(logits.add(r * k), *labels.add(r) as usize, dlogits.add(r * k), k, inv_n) as f64;
    }
    (total / n as f64) as f32
}

/// out[r] = index of the first maximum of row r.
pub unsafe fn argmax_rows(x: *const f32, out: *mut i32, n: usize, k: usize) {
    for r in 0..n {
        let row = x.add(r * k);
        let (mut best, mut at) = (*row, 0usize);
        for j in 1..k {
            if *row.add(j) > best {
                best = *row.add(j);
                at = j;
            }
        }
        *out.add(r) = at as i32;
    }
}

/// Per-row softmax cross-entropy: losses[r] = -log softmax(logits[r])[label r],
/// dlogits[r] = (softmax - onehot) * inv_n, where inv_n is 1 / (the whole
/// batch's size), so a shard of a batch gets the gradient the whole batch
/// would. dlogits may alias logits. The mean loss is the sum of `losses` in
/// row order, in f64, over the whole batch, divided by its size.
pub unsafe fn softmax_xent_rows(logits: *const f32, labels: *const i32, dlogits: *mut f32, losses: *mut f32, n: usize, k: usize, inv_n: f32) {
    for r in 0..n {
        *losses.add(r) = row_xent(logits.add(r * k), *labels.add(r) as usize, dlogits.add(r * k), k, inv_n);
    }
}
