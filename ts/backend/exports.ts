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
  relaxed_enabled(): number;
  abi_version(): number;
  sgemm(
    transA: number, transB: number, m: number, n: number, k: number, alpha: number,
    a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number,
  ): void;
  dense_forward(x: number, w: number, bias: number, y: number, n: number, d: number, u: number, relu: number): void;
  conv2d_workspace_len(
    n: number, c: number, h: number, w: number, f: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, keep: number,
  ): number;
  conv2d_forward(
    x: number, w: number, bias: number, y: number, cols: number,
    n: number, c: number, h: number, wd: number, f: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, keep: number, relu: number,
  ): void;
  conv2d_pool2_workspace_len(
    n: number, c: number, h: number, w: number, f: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number,
  ): number;
  conv2d_forward_pool2(
    x: number, w: number, bias: number, y: number, work: number,
    n: number, c: number, h: number, wd: number, f: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, relu: number,
  ): void;
  conv2d_backward(
    x: number, w: number, dy: number, dx: number, dw: number, dbias: number, cols: number,
    n: number, c: number, h: number, wd: number, f: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number, cached: number,
  ): void;
  im2col(x: number, cols: number, c: number, h: number, wd: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  col2im(dcols: number, dx: number, c: number, h: number, wd: number, kh: number, kw: number,
    sh: number, sw: number, ph: number, pw: number, oh: number, ow: number): void;
  maxpool2d_forward(x: number, y: number, argmax: number, planes: number, h: number, w: number,
    kh: number, kw: number, sh: number, sw: number, oh: number, ow: number): void;
  maxpool2d_backward(dy: number, argmax: number, dx: number, planes: number, h: number, w: number, oh: number, ow: number): void;
  avgpool2d_forward(x: number, y: number, planes: number, h: number, w: number,
    kh: number, kw: number, sh: number, sw: number, oh: number, ow: number): void;
  avgpool2d_backward(dy: number, dx: number, planes: number, h: number, w: number,
    kh: number, kw: number, sh: number, sw: number, oh: number, ow: number): void;
  pad2d_forward(x: number, y: number, planes: number, h: number, w: number, top: number, left: number, oh: number, ow: number, value: number): void;
  pad2d_backward(dy: number, dx: number, planes: number, h: number, w: number, top: number, left: number, oh: number, ow: number): void;
  relu_forward(x: number, y: number, len: number): void;
  relu_backward(y: number, dy: number, dx: number, len: number): void;
  bias_add_rows(y: number, bias: number, rows: number, cols: number): void;
  bias_grad_rows(dy: number, dbias: number, rows: number, cols: number): void;
  dropout_forward(x: number, y: number, mask: number, len: number, keep: number, seedLo: number, seedHi: number, offset: number): void;
  mul(a: number, b: number, dst: number, len: number): void;
  fill(p: number, len: number, v: number): void;
  affine(x: number, y: number, len: number, scale: number, shift: number): void;
  lut_u8(x: number, table: number, y: number, len: number): void;
  pairwise_rows(src: number, rows: number, cols: number, dst: number): void;
  pairwise_rows_partial(src: number, rows: number, cols: number, cover: number, dst: number): void;
  batchnorm_image_sums(x: number, n: number, c: number, s: number, out: number): void;
  batchnorm_mean(total: number, m: number, c: number, mean: number): void;
  batchnorm_image_sq_devs(x: number, mean: number, n: number, c: number, s: number, out: number): void;
  batchnorm_finish_stats(sq: number, m: number, c: number, mean: number, invstd: number,
    runningMean: number, runningVar: number, momentum: number, eps: number): void;
  batchnorm_normalize(x: number, y: number, gamma: number, beta: number, mean: number, invstd: number, n: number, c: number, s: number): void;
  batchnorm_forward_infer(x: number, y: number, gamma: number, beta: number, runningMean: number, runningVar: number,
    n: number, c: number, s: number, eps: number): void;
  batchnorm_backward_partials(x: number, dy: number, mean: number, n: number, c: number, s: number, out: number): void;
  batchnorm_backward_dx(x: number, dy: number, gamma: number, mean: number, invstd: number,
    dbeta: number, dgamma: number, dx: number, n: number, c: number, s: number, m: number): void;
  softmax(logits: number, probs: number, n: number, k: number): void;
  softmax_xent(logits: number, labels: number, dlogits: number, n: number, k: number): number;
  softmax_xent_rows(logits: number, labels: number, dlogits: number, losses: number, n: number, k: number, invN: number): void;
  argmax_rows(x: number, out: number, n: number, k: number): void;
  peak_madd(iters: number, m: number, c: number): number;
  peak_fma(iters: number, m: number, c: number): number;
  sgd_update(w: number, g: number, v: number, len: number, lr: number, momentum: number, weightDecay: number, nesterov: number): void;
  adam_update(w: number, g: number, m: number, v: number, len: number, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, decoupled: number, biasCorrection1: number, biasCorrection2: number): void;
}

/** Names of the function exports, in the order of {@link KernelExports}. */
export const KERNEL_FUNCTIONS = [
  'alloc',
  'free',
  'simd_enabled',
  'relaxed_enabled',
  'abi_version',
  'sgemm',
  'dense_forward',
  'conv2d_workspace_len',
  'conv2d_forward',
  'conv2d_pool2_workspace_len',
  'conv2d_forward_pool2',
  'conv2d_backward',
  'im2col',
  'col2im',
  'maxpool2d_forward',
  'maxpool2d_backward',
  'avgpool2d_forward',
  'avgpool2d_backward',
  'pad2d_forward',
  'pad2d_backward',
  'relu_forward',
  'relu_backward',
  'bias_add_rows',
  'bias_grad_rows',
  'dropout_forward',
  'mul',
  'fill',
  'affine',
  'lut_u8',
  'pairwise_rows',
  'pairwise_rows_partial',
  'batchnorm_image_sums',
  'batchnorm_mean',
  'batchnorm_image_sq_devs',
  'batchnorm_finish_stats',
  'batchnorm_normalize',
  'batchnorm_forward_infer',
  'batchnorm_backward_partials',
  'batchnorm_backward_dx',
  'softmax',
  'softmax_xent',
  'softmax_xent_rows',
  'argmax_rows',
  'peak_madd',
  'peak_fma',
  'sgd_update',
  'adam_update',
] as const satisfies readonly (Exclude<keyof KernelExports, 'memory'>)[];

/** The ABI version this TypeScript expects from `abi_version()`. */
export const ABI_VERSION = 6;
