//! The only file that touches `core::arch::wasm32`.
//!
//! `F4` is four f32 lanes. Built with `-C target-feature=+simd128` it is one
//! `v128` and every method is a single SIMD128 instruction; built without, it
//! is `[f32; 4]` and the same methods are plain scalar code, so each kernel is
//! written once and compiles to either. Built with `+relaxed-simd` as well,
//! `madd` is `f32x4.relaxed_madd` (a fused multiply-add where the engine and
//! the machine have one: one rounding instead of two, so that build's bits
//! differ from the SIMD build's); in the other builds it is a multiply, then
//! an add.

#[cfg(target_feature = "simd128")]
mod imp {
    use core::arch::wasm32::*;

    /// Four f32 lanes in one `v128`.
    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub struct F4(v128);

    impl F4 {
        #[inline(always)]
        pub fn zero() -> F4 {
            F4(f32x4_splat(0.0))
        }
        #[inline(always)]
        pub fn splat(x: f32) -> F4 {
            F4(f32x4_splat(x))
        }
        /// Unaligned load of 4 floats.
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> F4 {
            F4(core::ptr::read_unaligned(p as *const v128))
        }
        /// Unaligned store of 4 floats.
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            core::ptr::write_unaligned(p as *mut v128, self.0)
        }
        /// Load one float and broadcast it (`v128.load32_splat`).
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> F4 {
            F4(v128_load32_splat(p as *const u32))
        }
        /// Loads 2 floats into lanes 0 and 1 (lanes 2 and 3 are zero).
        #[inline(always)]
        pub unsafe fn load2(p: *const f32) -> F4 {
            F4(v128_load64_zero(p as *const u64))
        }
        /// Stores lanes 0 and 1 to p[0], p[1].
        #[inline(always)]
        pub unsafe fn store2(self, p: *mut f32) {
            v128_store64_lane::<0>(self.0, p as *mut u64)
        }
        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            F4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: F4) -> F4 {
            F4(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            F4(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn div(self, o: F4) -> F4 {
            F4(f32x4_div(self.0, o.0))
        }
        /// `self + a * b`: fused (`f32x4.relaxed_madd`) in the relaxed build.
        #[cfg(target_feature = "relaxed-simd")]
        #[inline(always)]
        pub fn madd(self, a: F4, b: F4) -> F4 {
            F4(f32x4_relaxed_madd(a.0, b.0, self.0))
        }
        /// `self + a * b`: a multiply, then an add (two roundings).
        #[cfg(not(target_feature = "relaxed-simd"))]
        #[inline(always)]
        pub fn madd(self, a: F4, b: F4) -> F4 {
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub fn sqrt(self) -> F4 {
            F4(f32x4_sqrt(self.0))
        }
        /// Lane-wise `if a > b { a } else { b }` (NaN-propagating like `pmax`).
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            F4(f32x4_pmax(self.0, o.0))
        }
        /// Lane-wise `self > 0 ? on : 0`.
        #[inline(always)]
        pub fn select_pos(self, on: F4) -> F4 {
            let mask = f32x4_gt(self.0, f32x4_splat(0.0));
            F4(v128_and(mask, on.0))
        }
        /// Splits 8 consecutive values (a, b) into their even and odd positions.
        #[inline(always)]
        pub fn even_odd(a: F4, b: F4) -> (F4, F4) {
            (F4(i32x4_shuffle::<0, 2, 4, 6>(a.0, b.0)), F4(i32x4_shuffle::<1, 3, 5, 7>(a.0, b.0)))
        }
        /// Lane-wise `self > o` as a mask.
        #[inline(always)]
        pub fn gt(self, o: F4) -> Mask4 {
            Mask4(f32x4_gt(self.0, o.0))
        }
        /// Lane-wise `mask ? on : off`.
        #[inline(always)]
        pub fn select(mask: Mask4, on: F4, off: F4) -> F4 {
            F4(v128_bitselect(on.0, off.0, mask.0))
        }
        /// Transposes the 4x4 matrix whose rows are `r` (shuffles only).
        #[inline(always)]
        pub fn transpose4(r: [F4; 4]) -> [F4; 4] {
            let t0 = i32x4_shuffle::<0, 4, 1, 5>(r[0].0, r[1].0);
            let t1 = i32x4_shuffle::<2, 6, 3, 7>(r[0].0, r[1].0);
            let t2 = i32x4_shuffle::<0, 4, 1, 5>(r[2].0, r[3].0);
            let t3 = i32x4_shuffle::<2, 6, 3, 7>(r[2].0, r[3].0);
            [
                F4(i32x4_shuffle::<0, 1, 4, 5>(t0, t2)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(t0, t2)),
                F4(i32x4_shuffle::<0, 1, 4, 5>(t1, t3)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(t1, t3)),
            ]
        }
        /// Interleaves two vectors: (a0, b0, a1, b1) and (a2, b2, a3, b3).
        #[inline(always)]
        pub fn zip(a: F4, b: F4) -> (F4, F4) {
            (F4(i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0)), F4(i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0)))
        }
        /// Lanes 2 and 3 moved to lanes 0 and 1 (for `store2`).
        #[inline(always)]
        pub fn high_pair(self) -> F4 {
            F4(i32x4_shuffle::<2, 3, 2, 3>(self.0, self.0))
        }
        /// Sum of the four lanes, in the fixed order ((0+1)+(2+3)).
        #[inline(always)]
        pub fn hsum(self) -> f32 {
            let v = self.0;
            (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
                + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
        }
    }

    /// A lane mask from a comparison.
    #[derive(Clone, Copy)]
    pub struct Mask4(v128);

    /// Four i32 lanes (indices).
    #[derive(Clone, Copy)]
    pub struct I4(v128);

    impl I4 {
        #[inline(always)]
        pub fn new(a: i32, b: i32, c: i32, d: i32) -> I4 {
            I4(i32x4(a, b, c, d))
        }
        #[inline(always)]
        pub fn add_scalar(self, v: i32) -> I4 {
            I4(i32x4_add(self.0, i32x4_splat(v)))
        }
        #[inline(always)]
        pub fn select(mask: Mask4, on: I4, off: I4) -> I4 {
            I4(v128_bitselect(on.0, off.0, mask.0))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut i32) {
            core::ptr::write_unaligned(p as *mut v128, self.0)
        }
    }
}

#[cfg(not(target_feature = "simd128"))]
mod imp {
    /// `c ? on : off` without a branch: branches on the sign of activations
    /// mispredict about half the time on real data (relu ran 6x slower).
    #[inline(always)]
    fn pick(c: bool, on: f32, off: f32) -> f32 {
        let m = (c as u32).wrapping_neg();
        f32::from_bits((on.to_bits() & m) | (off.to_bits() & !m))
    }

    /// Four f32 lanes as a plain array (scalar build).
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        #[inline(always)]
        pub fn zero() -> F4 {
            F4([0.0; 4])
        }
        #[inline(always)]
        pub fn splat(x: f32) -> F4 {
            F4([x; 4])
        }
        #[inline(always)]
        pub unsafe fn load(p: *const f32) -> F4 {
            F4([*p, *p.add(1), *p.add(2), *p.add(3)])
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut f32) {
            *p = self.0[0];
            *p.add(1) = self.0[1];
            *p.add(2) = self.0[2];
            *p.add(3) = self.0[3];
        }
        #[inline(always)]
        pub unsafe fn load_splat(p: *const f32) -> F4 {
            F4([*p; 4])
        }
        #[inline(always)]
        pub unsafe fn load2(p: *const f32) -> F4 {
            F4([*p, *p.add(1), 0.0, 0.0])
        }
        #[inline(always)]
        pub unsafe fn store2(self, p: *mut f32) {
            *p = self.0[0];
            *p.add(1) = self.0[1];
        }
        #[inline(always)]
        fn map2(self, o: F4, f: impl Fn(f32, f32) -> f32) -> F4 {
            F4([f(self.0[0], o.0[0]), f(self.0[1], o.0[1]), f(self.0[2], o.0[2]), f(self.0[3], o.0[3])])
        }
        #[inline(always)]
        pub fn add(self, o: F4) -> F4 {
            self.map2(o, |a, b| a + b)
        }
        #[inline(always)]
        pub fn sub(self, o: F4) -> F4 {
            self.map2(o, |a, b| a - b)
        }
        #[inline(always)]
        pub fn mul(self, o: F4) -> F4 {
            self.map2(o, |a, b| a * b)
        }
        #[inline(always)]
        pub fn div(self, o: F4) -> F4 {
            self.map2(o, |a, b| a / b)
        }
        /// `self + a * b`: a multiply, then an add.
        #[inline(always)]
        pub fn madd(self, a: F4, b: F4) -> F4 {
            self.add(a.mul(b))
        }
        #[inline(always)]
        pub fn sqrt(self) -> F4 {
            F4([self.0[0].sqrt(), self.0[1].sqrt(), self.0[2].sqrt(), self.0[3].sqrt()])
        }
        #[inline(always)]
        pub fn max(self, o: F4) -> F4 {
            self.map2(o, |a, b| pick(a < b, b, a))
        }
        #[inline(always)]
        pub fn select_pos(self, on: F4) -> F4 {
            self.map2(on, |a, b| pick(a > 0.0, b, 0.0))
        }
        #[inline(always)]
        pub fn even_odd(a: F4, b: F4) -> (F4, F4) {
            (F4([a.0[0], a.0[2], b.0[0], b.0[2]]), F4([a.0[1], a.0[3], b.0[1], b.0[3]]))
        }
        #[inline(always)]
        pub fn gt(self, o: F4) -> Mask4 {
            Mask4([self.0[0] > o.0[0], self.0[1] > o.0[1], self.0[2] > o.0[2], self.0[3] > o.0[3]])
        }
        #[inline(always)]
        pub fn select(mask: Mask4, on: F4, off: F4) -> F4 {
            F4([0, 1, 2, 3].map(|i| pick(mask.0[i], on.0[i], off.0[i])))
        }
        #[inline(always)]
        pub fn transpose4(r: [F4; 4]) -> [F4; 4] {
            let mut o = [F4([0.0; 4]); 4];
            for (i, row) in r.iter().enumerate() {
                for (j, out) in o.iter_mut().enumerate() {
                    out.0[i] = row.0[j];
                }
            }
            o
        }
        #[inline(always)]
        pub fn zip(a: F4, b: F4) -> (F4, F4) {
            (F4([a.0[0], b.0[0], a.0[1], b.0[1]]), F4([a.0[2], b.0[2], a.0[3], b.0[3]]))
        }
        #[inline(always)]
        pub fn high_pair(self) -> F4 {
            F4([self.0[2], self.0[3], self.0[2], self.0[3]])
        }
        #[inline(always)]
        pub fn hsum(self) -> f32 {
            (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
        }
    }

    /// A lane mask from a comparison.
    #[derive(Clone, Copy)]
    pub struct Mask4([bool; 4]);

    /// Four i32 lanes (indices).
    #[derive(Clone, Copy)]
    pub struct I4([i32; 4]);

    impl I4 {
        #[inline(always)]
        pub fn new(a: i32, b: i32, c: i32, d: i32) -> I4 {
            I4([a, b, c, d])
        }
        #[inline(always)]
        pub fn add_scalar(self, v: i32) -> I4 {
            I4(self.0.map(|x| x + v))
        }
        #[inline(always)]
        pub fn select(mask: Mask4, on: I4, off: I4) -> I4 {
            I4([0, 1, 2, 3].map(|i| {
                let m = (mask.0[i] as i32).wrapping_neg();
                (on.0[i] & m) | (off.0[i] & !m)
            }))
        }
        #[inline(always)]
        pub unsafe fn store(self, p: *mut i32) {
            for (i, v) in self.0.iter().enumerate() {
                *p.add(i) = *v;
            }
        }
    }
}

pub use imp::{I4, Mask4, F4};

/// Whether this build uses SIMD128 (reported to TypeScript by `simd_enabled`).
pub const SIMD: bool = cfg!(target_feature = "simd128");
/// Whether this build fuses multiply-adds with relaxed SIMD (reported by `relaxed_enabled`).
pub const RELAXED: bool = cfg!(target_feature = "relaxed-simd");
