//! In-place optimiser updates over one parameter tensor.

use crate::simd::F4;

/// SGD with momentum, PyTorch semantics (dampening 0):
///   g' = g + wd * w;  v = mu * v + g';  w -= lr * (nesterov ? g' + mu * v : v).
/// With mu == 0 the velocity is still written (v = g'), which is harmless.
pub unsafe fn sgd(w: *mut f32, g: *const f32, v: *mut f32, len: usize, lr: f32, mu: f32, wd: f32, nesterov: bool) {
    let (vlr, vmu, vwd) = (F4::splat(lr), F4::splat(mu), F4::splat(wd));
    let mut i = 0;
    while i + 4 <= len {
        let wi = F4::load(w.add(i));
        let gi = F4::load(g.add(i)).add(vwd.mul(wi));
        let vi = vmu.mul(F4::load(v.add(i))).add(gi);
        vi.store(v.add(i));
        let step = if nesterov { gi.add(vmu.mul(vi)) } else { vi };
        wi.sub(vlr.mul(step)).store(w.add(i));
        i += 4;
    }
    while i < len {
        let wi = *w.add(i);
        let gi = *g.add(i) + wd * wi;
        let vi = mu * *v.add(i) + gi;
        *v.add(i) = vi;
        let step = if nesterov { gi + mu * vi } else { vi };
        *w.add(i) = wi - lr * step;
        i += 1;
    }
}

/// Adam (decoupled == false: L2 added to the gradient) or AdamW (decoupled == true:
/// w *= 1 - lr*wd before the step). bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
///   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  w -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
pub unsafe fn adam(
    w: *mut f32, g: *const f32, m: *mut f32, v: *mut f32, len: usize,
    lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, decoupled: bool, bc1: f32, bc2: f32,
) {
    let (vb1, vb2, vc1, vc2) = (F4::splat(b1), F4::splat(b2), F4::splat(1.0 - b1), F4::splat(1.0 - b2));
    let (vlr, veps, vwd) = (F4::splat(lr), F4::splat(eps), F4::splat(wd));
    let (ibc1, ibc2) = (F4::splat(1.0 / bc1), F4::splat(1.0 / bc2));
    let decay = F4::splat(1.0 - lr * wd);
    let mut i = 0;
    while i + 4 <= len {
        let mut wi = F4::load(w.add(i));
        let mut gi = F4::load(g.add(i));
        if decoupled {
            wi = wi.mul(decay);
        } else {
            gi = gi.add(vwd.mul(wi));
        }
        let mi = vb1.mul(F4::load(m.add(i))).add(vc1.mul(gi));
        let vi = vb2.mul(F4::load(v.add(i))).add(vc2.mul(gi.mul(gi)));
        mi.store(m.add(i));
        vi.store(v.add(i));
        let denom = vi.mul(ibc2).sqrt().add(veps);
        wi.sub(vlr.mul(mi.mul(ibc1)).div(denom)).store(w.add(i));
        i += 4;
    }
    while i < len {
        let mut wi = *w.add(i);
        let mut gi = *g.add(i);
        if decoupled {
            wi *= 1.0 - lr * wd;
        } else {
            gi += wd * wi;
        }
        let mi = b1 * *m.add(i) + (1.0 - b1) * gi;
        let vi = b2 * *v.add(i) + (1.0 - b2) * gi * gi;
        *m.add(i) = mi;
        *v.add(i) = vi;
        // Same operation order as the vector lanes above, so every element of a
        // tensor is updated by the same formula.
        *w.add(i) = wi - (lr * (mi * (1.0 / bc1))) / ((vi * (1.0 / bc2)).sqrt() + eps);
        i += 1;
    }
}
