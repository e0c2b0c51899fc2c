//! The wasm surface of cnn-wasm: `#[no_mangle] extern "C"` wrappers only.
//!
//! Every function takes pointers into linear memory (as `usize` byte addresses
//! that TypeScript holds) and sizes; none allocates on the hot path. Shapes are
//! validated in TypeScript before a call, so these wrappers do not re-check.
//! Booleans cross the boundary as `i32` (0 = false).

pub mod gemm;
pub mod simd;

use std::alloc::{alloc as sys_alloc, dealloc, Layout};

const ALIGN: usize = 16;

/// Allocates `bytes` bytes, 16-byte aligned; returns 0 on failure or bytes == 0.
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

/// 1 when this build was compiled with SIMD128, else 0.
#[no_mangle]
pub extern "C" fn simd_enabled() -> i32 {
    simd::SIMD as i32
}

/// Version of the wasm surface; TypeScript refuses a build whose ABI differs.
#[no_mangle]
pub extern "C" fn abi_version() -> i32 {
    1
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
