import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KERNEL_FUNCTIONS } from '../ts/backend/exports.js';
import { autoBackend, defaultWasmUrl, initBackend, instantiateBackend, relaxedSupported, simdSupported, getBackend, type BackendName } from '../ts/backend/load.js';
import { fill, reluForward } from '../ts/kernels/elementwise.js';
import { BACKENDS } from './helpers.js';
import { opCensus } from './wasm-ops.js';

const path = (name: BackendName) => fileURLToPath(defaultWasmUrl(name));


/** Reads the features listed in the `target_features` custom section. */
function targetFeatures(bytes: Uint8Array): string[] {
  const mod = new WebAssembly.Module(new Uint8Array(bytes));
  const sections = WebAssembly.Module.customSections(mod, 'target_features');
  if (sections.length === 0) return [];
  const b = new Uint8Array(sections[0]);
  let i = 0;
  const leb = () => { let r = 0, s = 0, x; do { x = b[i++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return r; };
  const out: string[] = [];
  for (let n = leb(); n > 0; n--) {
    const prefix = String.fromCharCode(b[i++]);
    const len = leb();
    out.push(prefix + new TextDecoder().decode(b.subarray(i, i + len)));
    i += len;
  }
  return out;
}

describe('wasm builds', () => {
  it('the SIMD build contains f32x4 instructions', () => {
    const ops = opCensus(readFileSync(path('simd')));
    expect(ops.byName.get('f32x4.mul')).toBeGreaterThan(100);
    expect(ops.byName.get('f32x4.add')).toBeGreaterThan(100);
    expect(ops.simd).toBeGreaterThan(1000);
    expect(targetFeatures(readFileSync(path('simd')))).toContain('+simd128');
    expect(ops.byName.get('f32x4.relaxed_madd') ?? 0).toBe(0);
  });

  it('the relaxed build multiplies and adds with f32x4.relaxed_madd in its GEMM and convolutions', () => {
    const ops = opCensus(readFileSync(path('relaxed')));
    expect(ops.byName.get('f32x4.relaxed_madd')).toBeGreaterThan(50);
    expect(targetFeatures(readFileSync(path('relaxed')))).toEqual(expect.arrayContaining(['+simd128', '+relaxed-simd']));
  });

  it('the scalar build contains no SIMD instructions at all', () => {
    const ops = opCensus(readFileSync(path('scalar')));
    expect(ops.total).toBeGreaterThan(10_000); // really decoded the code section
    expect(ops.byName.get('f32.mul')).toBeGreaterThan(100);
    expect(ops.simd).toBe(0);
    expect(targetFeatures(readFileSync(path('scalar')))).not.toContain('+simd128');
  });

  it('the TypeScript binding list matches the export list of every build', () => {
    for (const name of BACKENDS) {
      const mod = new WebAssembly.Module(new Uint8Array(readFileSync(path(name))));
      const fns = WebAssembly.Module.exports(mod).filter((e) => e.kind === 'function').map((e) => e.name).sort();
      expect(fns).toEqual([...KERNEL_FUNCTIONS].sort());
      expect(WebAssembly.Module.exports(mod).some((e) => e.kind === 'memory' && e.name === 'memory')).toBe(true);
    }
  });
});

describe('initBackend', () => {
  it('instantiates every build in Node and each reports what it is', async () => {
    const relaxed = await initBackend({ backend: 'relaxed' });
    expect([relaxed.name, relaxed.simd, relaxed.relaxed]).toEqual(['relaxed', true, true]);
    const simd = await initBackend({ backend: 'simd' });
    expect([simd.name, simd.simd, simd.relaxed]).toEqual(['simd', true, false]);
    const scalar = await initBackend({ backend: 'scalar' });
    expect([scalar.name, scalar.simd, scalar.relaxed]).toEqual(['scalar', false, false]);
    expect(getBackend()).toBe(scalar);
  });

  it("'auto' picks relaxed where the engine runs relaxed SIMD (the test processes do, vitest.config.ts)", async () => {
    expect(simdSupported()).toBe(true);
    expect(relaxedSupported()).toBe(true);
    expect(autoBackend()).toEqual({ name: 'relaxed', reason: 'the engine validates relaxed SIMD (fused multiply-add)' });
    expect((await initBackend({ backend: 'auto' })).name).toBe('relaxed');
  });

  it("on Node 20 without its flag 'auto' picks SIMD and says why; asking for relaxed there is refused by name", () => {
    const code = `import('${new URL('../dist/backend/load.js', import.meta.url).href}').then(async (m) => {
      console.log(JSON.stringify(m.autoBackend()));
      try { await m.initBackend({ backend: 'relaxed' }); } catch (e) { console.log(e.message); }
    })`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    const [auto, refusal] = r.stdout.trim().split('\n');
    if (Number(process.versions.node.split('.')[0]) >= 22) {
      expect(JSON.parse(auto).name).toBe('relaxed'); // on by default from Node 22
      return;
    }
    expect(JSON.parse(auto)).toEqual({ name: 'simd', reason: 'the engine validates SIMD128 but not relaxed SIMD (Node 20 enables it with --experimental-wasm-relaxed-simd)' });
    expect(refusal).toMatch(/backend 'relaxed' requested but this JavaScript engine does not run relaxed SIMD \(Node 22 and later do; Node 20 with --experimental-wasm-relaxed-simd\)/);
  });

  it('loads from the package, not the working directory', async () => {
    const cwd = process.cwd();
    process.chdir('/');
    try {
      expect((await initBackend()).name).toBe('relaxed');
    } finally {
      process.chdir(cwd);
    }
  });

  it('rejects an unknown backend name and a missing file clearly', async () => {
    // @ts-expect-error deliberately wrong
    await expect(initBackend({ backend: 'gpu' })).rejects.toThrow(/unknown backend 'gpu'.*auto, relaxed, simd, scalar/);
    await expect(initBackend({ backend: 'simd', wasm: { simd: new URL('file:///nonexistent/k.wasm') } }))
      .rejects.toThrow(/cannot read the kernels at \/nonexistent\/k.wasm/);
  });

  it('accepts a bundler-style loader of instance exports, calling only the chosen build\'s', async () => {
    const calls: string[] = [];
    const loader = (name: 'simd' | 'scalar') => async () => {
      calls.push(name);
      return (await WebAssembly.instantiate(new Uint8Array(readFileSync(path(name))))).instance.exports;
    };
    const be = await initBackend({ backend: 'scalar', wasm: { simd: loader('simd'), scalar: loader('scalar') } });
    expect(be.name).toBe('scalar');
    expect(be.simd).toBe(false);
    expect(calls).toEqual(['scalar']);
    await expect(initBackend({ backend: 'scalar', wasm: { scalar: async () => ({}) } })).rejects.toThrow(/scalar kernels lack exports: alloc/);
  });

  it('accepts bytes and rejects a module that is not the kernels', async () => {
    const bytes = readFileSync(path('scalar'));
    expect((await initBackend({ backend: 'scalar', wasm: { scalar: bytes } })).name).toBe('scalar');
    const empty = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    await expect(initBackend({ backend: 'scalar', wasm: { scalar: empty } })).rejects.toThrow(/lack exports: alloc/);
  });
});

describe('Heap and F32Buffer', () => {
  it('keeps views valid across memory.grow', async () => {
    const be = await initBackend({ backend: 'simd' });
    const a = be.heap.from([1, 2, 3, 4, 5]);
    const oldView = a.view;
    const before = be.heap.memoryBytes;
    const big = be.heap.alloc(16 << 20); // 64 MB forces growth
    expect(be.heap.memoryBytes).toBeGreaterThan(before);
    expect(oldView.length).toBe(0); // detached by the growth
    expect(Array.from(a.view)).toEqual([1, 2, 3, 4, 5]);
    big.free();
    a.free();
    expect(() => a.view).toThrow(/used after free/);
  });

  it('tracks allocated bytes and rejects bad sizes', async () => {
    const be = await initBackend({ backend: 'scalar' });
    const start = be.heap.allocatedBytes;
    const bufs = Array.from({ length: 10 }, (_, i) => be.heap.alloc(100 + i, 0));
    expect(be.heap.allocatedBytes - start).toBe(bufs.reduce((s, b) => s + b.length * 4, 0));
    bufs.forEach((b) => b.free());
    expect(be.heap.allocatedBytes).toBe(start);
    expect(() => be.heap.alloc(-1)).toThrow(/non-negative integer/);
    expect(() => be.heap.alloc(1.5)).toThrow(/non-negative integer/);
    expect(() => be.heap.alloc(3).set([1, 2])).toThrow(/source has 2 values, buffer holds 3/);
    // Byte counts past 32 bits used to wrap (2^30 values = 4 GiB became 0 bytes).
    expect(() => be.heap.alloc(2 ** 30)).toThrow(/exceed the largest single wasm allocation/);
    expect(() => be.heap.alloc(2 ** 32 + 1)).toThrow(/exceed the largest single wasm allocation/);
    expect(() => be.heap.alloc(2 ** 29)).toThrow(/exceed the largest single wasm allocation/);
  });

  it.each(BACKENDS)('%s: buffers above 2 GiB of wasm memory work (addresses read unsigned)', async (name) => {
    const be = await instantiateBackend(name, new WebAssembly.Module(new Uint8Array(readFileSync(path(name)))));
    const big = [be.heap.allocI32(2 ** 28), be.heap.allocI32(2 ** 28)]; // 2 x 1 GiB push what follows past 2 GiB
    const x = be.heap.alloc(1000), y = be.heap.alloc(1000);
    expect(x.ptr).toBeGreaterThan(2 ** 31);
    x.set(Array.from({ length: 1000 }, (_, i) => i - 500));
    reluForward(be, x, y);
    expect(Array.from(y.view.subarray(498, 503))).toEqual([0, 0, 0, 1, 2]);
    fill(be, y, 7);
    expect(y.view[999]).toBe(7);
    for (const b of [...big, x, y]) b.free();
  }, 30_000);

  it('starts every buffer on a 64-byte cache line, whatever was allocated before', async () => {
    for (const backend of ['simd', 'scalar'] as const) {
      const be = await initBackend({ backend });
      const bufs: { ptr: number }[] = [1, 3, 17, 100, 1001, 4096 + 5].map((n) => be.heap.alloc(n));
      bufs.push(be.heap.allocI32(7));
      for (const b of bufs) expect(b.ptr % 64).toBe(0);
    }
  });
});
