/**
 * Typed bindings of every function the kernels crate exports (crates/kernels/src/lib.rs).
 *
 * Pointers are byte addresses into the wasm linear memory; sizes are element counts.
 * Booleans are passed as 0/1. `test/backend.test.ts` checks this list against the
 * real export list of both builds, so a kernel added in Rust must be added here.
 */
export interface KernelExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number, bytes: number): void;
  simd_enabled(): number;
  abi_version(): number;
  sgemm(
    transA: number, transB: number, m: number, n: number, k: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void;
}

/** Names of the function exports, in the order of {@link KernelExports}. */
export const KERNEL_FUNCTIONS = [
  'alloc',
  'free',
  'simd_enabled',
  'abi_version',
  'sgemm',
] as const satisfies readonly (Exclude<keyof KernelExports, 'memory'>)[];

/** The ABI version this TypeScript expects from `abi_version()`. */
export const ABI_VERSION = 1;
