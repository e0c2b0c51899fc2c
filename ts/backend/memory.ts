/**
 * f32 buffers in wasm linear memory.
 *
 * `memory.grow` detaches every typed array over the old buffer, so nothing here
 * caches a view across a call that may allocate: {@link F32Buffer.view} re-makes
 * its view whenever the memory's buffer has changed.
 */
import type { KernelExports } from './exports.js';

type View = Float32Array | Int32Array;

/** An owned block of `length` 4-byte values at byte address `ptr` in wasm memory. */
abstract class WasmBuffer<V extends View> {
  private cached: V | null = null;
  private freed = false;

  constructor(
    protected readonly heap: Heap,
    /** Byte address of element 0. */
    readonly ptr: number,
    /** Number of elements. */
    readonly length: number,
    /** A view into another buffer's memory: free() releases nothing. */
    private readonly borrowed = false,
  ) {}

  protected abstract makeView(buffer: ArrayBuffer, ptr: number, length: number): V;

  /** A typed array over the buffer, re-made after memory growth; don't keep it across calls that allocate. */
  get view(): V {
    if (this.freed) throw new Error(`${this.constructor.name}: used after free()`);
    const buf = this.heap.memory.buffer;
    if (this.cached === null || this.cached.buffer !== buf) {
      this.cached = this.makeView(buf, this.ptr, this.length);
    }
    return this.cached;
  }

  /** Copies `src` into the buffer (lengths must match). */
  set(src: ArrayLike<number>): void {
    if (src.length !== this.length) {
      throw new Error(`${this.constructor.name}.set: source has ${src.length} values, buffer holds ${this.length}`);
    }
    this.view.set(src);
  }

  /** A copy of the contents in JS memory. */
  toArray(): V {
    return this.view.slice() as V;
  }

  /** Fills the buffer with `value`. */
  fill(value: number): void {
    this.view.fill(value);
  }

  /** Releases the wasm memory; the buffer must not be used afterwards. Idempotent. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.cached = null;
    if (!this.borrowed) this.heap.freeBytes(this.ptr, this.length * 4);
  }

  /** Whether {@link free} has been called. */
  get isFreed(): boolean {
    return this.freed;
  }
}

/** f32 values in wasm memory. */
export class F32Buffer extends WasmBuffer<Float32Array> {
  protected makeView(buffer: ArrayBuffer, ptr: number, length: number): Float32Array {
    return new Float32Array(buffer, ptr, length);
  }

  /** Values [offset, offset + length) as a buffer of their own, borrowing this one's memory (free() on it is a no-op). */
  sub(offset: number, length: number): F32Buffer {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.length) {
      throw new Error(`F32Buffer.sub: [${offset}, ${offset + length}) is outside the buffer's ${this.length} values`);
    }
    return new F32Buffer(this.heap, this.ptr + offset * 4, length, true);
  }
}

/** i32 values in wasm memory (labels, argmax indices). */
export class I32Buffer extends WasmBuffer<Int32Array> {
  protected makeView(buffer: ArrayBuffer, ptr: number, length: number): Int32Array {
    return new Int32Array(buffer, ptr, length);
  }
}

/**
 * The largest block one allocation can hold: wasm32 addresses are 32-bit and
 * Rust's allocator takes sizes up to isize::MAX (2 GiB - 1), minus alignment.
 */
export const MAX_ALLOC_BYTES = 2 ** 31 - 64;

/** Allocation of f32 buffers in one wasm instance's memory. */
export class Heap {
  private liveBytes = 0;

  constructor(private readonly k: KernelExports) {}

  /** The instance's linear memory. */
  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }

  private allocBytes(length: number): number {
    if (!Number.isInteger(length) || length < 0) {
      throw new Error(`Heap.alloc: length must be a non-negative integer, got ${length}`);
    }
    const bytes = Math.max(1, length) * 4;
    if (bytes > MAX_ALLOC_BYTES) {
      throw new Error(`Heap.alloc: ${length} values (${bytes} bytes) exceed the largest single wasm allocation (${MAX_ALLOC_BYTES} bytes)`);
    }
    // wasm returns addresses as i32: read them unsigned, or those above 2 GiB turn negative.
    const ptr = this.k.alloc(bytes) >>> 0;
    if (ptr === 0) {
      throw new Error(`Heap.alloc: out of wasm memory allocating ${length} values (${bytes} bytes)`);
    }
    this.liveBytes += bytes;
    return ptr;
  }

  /** Allocates `length` f32 values (uninitialised unless `fill` is given). */
  alloc(length: number, fill?: number): F32Buffer {
    const buf = new F32Buffer(this, this.allocBytes(length), length);
    if (fill !== undefined) buf.fill(fill);
    return buf;
  }

  /** Allocates `length` i32 values (uninitialised). */
  allocI32(length: number): I32Buffer {
    return new I32Buffer(this, this.allocBytes(length), length);
  }

  /** Allocates a buffer holding a copy of `src`. */
  from(src: ArrayLike<number>): F32Buffer {
    const buf = this.alloc(src.length);
    buf.set(src);
    return buf;
  }

  /** @internal used by F32Buffer.free */
  freeBytes(ptr: number, lengthBytes: number): void {
    const bytes = Math.max(4, lengthBytes);
    this.k.free(ptr, bytes);
    this.liveBytes -= bytes;
  }

  /** Bytes currently allocated through this heap. */
  get allocatedBytes(): number {
    return this.liveBytes;
  }

  /** Size of the wasm linear memory in bytes. */
  get memoryBytes(): number {
    return this.k.memory.buffer.byteLength;
  }
}

/**
 * Buffers by name, grown on demand: a buffer is reallocated only when a
 * larger length is asked for (its contents are not kept then), so a step that
 * asks for the same sizes again allocates nothing.
 */
export class BufferPool {
  private readonly bufs = new Map<string, F32Buffer | I32Buffer>();

  constructor(private readonly heap: () => Heap) {}

  /** The f32 buffer `key`, at least `length` values long (at least 1). */
  f32(key: string, length: number): F32Buffer {
    return this.grown(key, length, F32Buffer, (n) => this.heap().alloc(n));
  }

  /** The i32 buffer `key`, at least `length` values long (at least 1). */
  i32(key: string, length: number): I32Buffer {
    return this.grown(key, length, I32Buffer, (n) => this.heap().allocI32(n));
  }

  private grown<B extends F32Buffer | I32Buffer>(key: string, length: number, kind: abstract new (...a: never[]) => B, alloc: (n: number) => B): B {
    const b = this.bufs.get(key);
    if (b instanceof kind && b.length >= length) return b;
    b?.free();
    const nb = alloc(Math.max(length, 1));
    this.bufs.set(key, nb);
    return nb;
  }

  /** The buffer `key` if it exists. */
  get(key: string): F32Buffer | I32Buffer | undefined {
    return this.bufs.get(key);
  }

  /** Frees every buffer. */
  free(): void {
    for (const b of this.bufs.values()) b.free();
    this.bufs.clear();
  }
}
