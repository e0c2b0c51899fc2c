/**
 * Loading and instantiating the kernels (pkg/kernels.relaxed.wasm,
 * pkg/kernels.simd.wasm, pkg/kernels.scalar.wasm).
 *
 * Node reads the files next to the installed package (resolved from this module's
 * URL, never the working directory); a browser fetches the same URLs, which
 * bundlers such as Vite rewrite into emitted assets. Callers may also hand in
 * bytes, a URL or a compiled `WebAssembly.Module` themselves.
 */
import { ABI_VERSION, KERNEL_FUNCTIONS, type KernelExports } from './exports.js';
import { Heap } from './memory.js';
import { isNode } from '../env.js';

/**
 * A compiled kernels build: 'relaxed' (SIMD128 with relaxed SIMD's fused
 * multiply-add in the GEMM and convolutions), 'simd' (SIMD128, the same bits
 * on every engine and machine) or 'scalar' (no SIMD).
 */
export type BackendName = 'relaxed' | 'simd' | 'scalar';
/** What {@link initBackend} may be asked for; 'auto' picks relaxed, else SIMD, else scalar, by what the engine validates. */
export type BackendChoice = 'auto' | BackendName;
/** The builds, fastest first. */
export const BACKEND_NAMES: readonly BackendName[] = ['relaxed', 'simd', 'scalar'];
/**
 * Where a wasm build comes from: its URL or path, its bytes, a compiled module,
 * or a function resolving to the exports of an instance a bundler made (e.g.
 * `() => import('cnn-wasm/pkg/kernels.simd.wasm')` with vite-plugin-wasm); the
 * function is only called for the build that is chosen.
 */
export type WasmSource = URL | string | ArrayBuffer | Uint8Array | WebAssembly.Module | (() => Promise<object>);

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** Which build to use (default 'auto'). */
  backend?: BackendChoice;
  /** Override where each build is loaded from (default: the package's pkg/ directory). */
  wasm?: Partial<Record<BackendName, WasmSource>>;
}

// A minimal module using a v128 instruction (i8x16.splat + i8x16.popcnt); only an
// engine with SIMD128 validates it. Same probe as the wasm-feature-detect package.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

// A function computing f32x4.relaxed_madd of three splatted zeros (opcode 0xfd 0x85 0x02, the final
// encoding): only an engine with relaxed SIMD enabled validates it.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1, 26, 0,
  67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 67, 0, 0, 0, 0, 253, 19, 253, 133, 2, 11,
]);

const validates = (probe: Uint8Array<ArrayBuffer>) => {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(probe);
  } catch {
    return false;
  }
};

/** Whether this JavaScript engine supports WebAssembly SIMD128. */
export function simdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/**
 * Whether this engine runs relaxed SIMD (Node 22+, Chrome and Edge 114+,
 * Firefox 146+ by default; Node 20 with --experimental-wasm-relaxed-simd;
 * not Safari).
 */
export function relaxedSupported(): boolean {
  return simdSupported() && validates(RELAXED_PROBE);
}

/** Which build 'auto' picks here, and why (what `cnn-wasm info` prints). */
export function autoBackend(): { name: BackendName; reason: string } {
  if (relaxedSupported()) return { name: 'relaxed', reason: 'the engine validates relaxed SIMD (fused multiply-add)' };
  if (simdSupported()) {
    const node = isNode && Number(process.versions.node.split('.')[0]) < 22 ? ' (Node 20 enables it with --experimental-wasm-relaxed-simd)' : '';
    return { name: 'simd', reason: `the engine validates SIMD128 but not relaxed SIMD${node}` };
  }
  return { name: 'scalar', reason: 'the engine does not validate SIMD128' };
}

/** Default location of a build, relative to this module (ts/backend or dist/backend). */
export function defaultWasmUrl(name: BackendName): URL {
  return new URL(`../../pkg/kernels.${name}.wasm`, import.meta.url);
}


async function readSource(src: Exclude<WasmSource, () => Promise<object>>): Promise<WebAssembly.Module> {
  if (src instanceof WebAssembly.Module) return src;
  if (src instanceof ArrayBuffer) return WebAssembly.compile(src);
  if (src instanceof Uint8Array) return WebAssembly.compile(new Uint8Array(src));
  const url = typeof src === 'string' ? new URL(src, isNode ? `file://${process.cwd()}/` : globalThis.location?.href) : src;
  if (isNode && url.protocol === 'file:') {
    // Specifiers in variables, and comments that tell Vite and webpack so: bundlers for
    // the browser leave this Node-only branch alone (webpack would otherwise warn
    // "Critical dependency" and copy whole folders as assets).
    const fsName = 'node:fs/promises', urlName = 'node:url';
    const { readFile } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ fsName)) as typeof import('node:fs/promises');
    const { fileURLToPath } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ urlName)) as typeof import('node:url');
    const path = fileURLToPath(url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new Error(`cnn-wasm: cannot read the kernels at ${path}: ${(e as Error).message}. ` +
        'Reinstall the package, or rebuild with `npm run build:wasm`.');
    }
    return WebAssembly.compile(bytes);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cnn-wasm: fetching the kernels from ${url.href} failed: HTTP ${res.status}`);
  return WebAssembly.compile(await res.arrayBuffer());
}

/** One instantiated kernels build: its exports, its memory and a heap. */
export class Backend {
  /** f32 allocation in this instance's memory. */
  readonly heap: Heap;

  constructor(
    /** Which build this is. */
    readonly name: BackendName,
    /** The raw kernel exports. */
    readonly k: KernelExports,
    /** The compiled module, when it was compiled here (workers instantiate the same one). */
    readonly module: WebAssembly.Module | null = null,
  ) {
    this.heap = new Heap(k);
  }

  /** Whether the instantiated build really uses SIMD128 (asked from the wasm itself). */
  get simd(): boolean {
    return this.k.simd_enabled() === 1;
  }

  /** Whether the instantiated build fuses multiply-adds with relaxed SIMD (asked from the wasm itself). */
  get relaxed(): boolean {
    return this.k.relaxed_enabled() === 1;
  }
}

/** Instantiates a build from a module, checking its exports and ABI version. */
export async function instantiateBackend(name: BackendName, module: WebAssembly.Module): Promise<Backend> {
  const instance = await WebAssembly.instantiate(module, {});
  return backendFromExports(name, instance.exports, module);
}

/** Wraps the exports of an instantiated build, checking them and the ABI version. */
export function backendFromExports(name: BackendName, exports: object, module: WebAssembly.Module | null = null): Backend {
  const ex = exports as Record<string, unknown>;
  const missing = KERNEL_FUNCTIONS.filter((f) => typeof ex[f] !== 'function');
  if (missing.length > 0 || !(ex.memory instanceof WebAssembly.Memory)) {
    throw new Error(`cnn-wasm: the ${name} kernels lack exports: ${[...missing, ...(ex.memory ? [] : ['memory'])].join(', ')} ` +
      '(pkg/ and the TypeScript are from different versions; rebuild with `npm run build:wasm`)');
  }
  const k = ex as unknown as KernelExports;
  const abi = k.abi_version();
  if (abi !== ABI_VERSION) {
    throw new Error(`cnn-wasm: the ${name} kernels have ABI version ${abi}, this library expects ${ABI_VERSION}`);
  }
  return new Backend(name, k, module);
}

let current: Backend | null = null;

/**
 * Loads and instantiates a kernels build and makes it the default backend.
 *
 * 'auto' chooses relaxed when the engine validates a relaxed-SIMD probe, else
 * SIMD when it validates a SIMD128 probe, else scalar. Asking for a build the
 * engine cannot run throws. 'simd' pins the portable bits (the same on every
 * engine and machine); 'relaxed' gives the same bits on every engine of a
 * machine with FMA, other bits than 'simd'.
 */
export async function initBackend(options: BackendOptions = {}): Promise<Backend> {
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto' && !BACKEND_NAMES.includes(choice)) {
    throw new Error(`cnn-wasm: unknown backend '${String(choice)}' (valid: auto, ${BACKEND_NAMES.join(', ')})`);
  }
  if (choice === 'simd' && !simdSupported()) {
    throw new Error("cnn-wasm: backend 'simd' requested but this JavaScript engine does not support " +
      "WebAssembly SIMD128; use backend 'scalar' or 'auto'");
  }
  if (choice === 'relaxed' && !relaxedSupported()) {
    throw new Error("cnn-wasm: backend 'relaxed' requested but this JavaScript engine does not run relaxed SIMD " +
      `(${isNode ? 'Node 22 and later do; Node 20 with --experimental-wasm-relaxed-simd' : 'Chrome and Edge 114+ and Firefox 146+ do; Safari does not'}); use backend 'simd', 'scalar' or 'auto'`);
  }
  const name: BackendName = choice === 'auto' ? autoBackend().name : choice;
  const src = options.wasm?.[name] ?? defaultWasmUrl(name);
  const backend = typeof src === 'function'
    ? backendFromExports(name, await src())
    : await instantiateBackend(name, await readSource(src));
  current = backend;
  return backend;
}

/** The backend set by the last {@link initBackend}; throws if there is none. */
export function getBackend(): Backend {
  if (current === null) {
    throw new Error('cnn-wasm: no backend initialised; call `await initBackend()` first');
  }
  return current;
}

/** Makes `backend` the default returned by {@link getBackend}. */
export function setBackend(backend: Backend): void {
  current = backend;
}
