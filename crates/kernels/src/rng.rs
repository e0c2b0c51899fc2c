//! Counter-based random numbers: the value for (seed, index) is a pure function
//! of both (splitmix64 finaliser), so dropout masks are reproducible on every
//! build and engine and need no state between calls.

#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform f32 in [0, 1) with 24 random bits, for draw `index` of stream `seed`.
#[inline(always)]
pub fn uniform(seed: u64, index: u64) -> f32 {
    let z = mix64(seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    (z >> 40) as f32 * (1.0 / 16_777_216.0)
}
