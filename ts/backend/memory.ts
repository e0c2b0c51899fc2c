/**
 * f32 buffers in wasm linear memory.
 *
 * `memory.grow` detaches every typed array over the old buffer, so nothing here
 * caches a view across a call that may allocate: {@link F32Buffer.view} re-makes
 * its view whenever the memory's buffer has changed.
 */
import type { KernelExports } from './exports.js';

/** An owned block of `length` f32 values at byte address `ptr` in wasm memory. */
export class F32Buffer {
  private cached: Float32Array | null = null;
  private freed = false;

  constructor(
    private readonly heap: Heap,
    /** Byte address of element 0. */
    readonly ptr: number,
    /** Number of f32 elements. */
    readonly length: number,
  ) {}

  /** A Float32Array over the buffer, valid until the next memory growth. */
  get view(): Float32Array {
    if (this.freed) throw new Error('F32Buffer: used after free()');
    const buf = this.heap.memory.buffer;
    if (this.cached === null || this.cached.buffer !== buf) {
      this.cached = new Float32Array(buf, this.ptr, this.length);
    }
    return this.cached;
  }

  /** Copies `src` into the buffer (lengths must match). */
  set(src: ArrayLike<number>): void {
    if (src.length !== this.length) {
      throw new Error(`F32Buffer.set: source has ${src.length} values, buffer holds ${this.length}`);
    }
    this.view.set(src);
  }

  /** A copy of the contents in JS memory. */
  toArray(): Float32Array {
    return new Float32Array(this.view);
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
    this.heap.freeBytes(this.ptr, this.length * 4);
  }

  /** Whether {@link free} has been called. */
  get isFreed(): boolean {
    return this.freed;
  }
}

/** Allocation of f32 buffers in one wasm instance's memory. */
export class Heap {
  private liveBytes = 0;

  constructor(private readonly k: KernelExports) {}

  /** The instance's linear memory. */
  get memory(): WebAssembly.Memory {
    return this.k.memory;
  }

  /** Allocates `length` f32 values (uninitialised unless `fill` is given). */
  alloc(length: number, fill?: number): F32Buffer {
    if (!Number.isInteger(length) || length < 0) {
      throw new Error(`Heap.alloc: length must be a non-negative integer, got ${length}`);
    }
    const bytes = Math.max(1, length) * 4;
    const ptr = this.k.alloc(bytes);
    if (ptr === 0) {
      throw new Error(`Heap.alloc: out of wasm memory allocating ${length} floats (${bytes} bytes)`);
    }
    this.liveBytes += bytes;
    const buf = new F32Buffer(this, ptr, length);
    if (fill !== undefined) buf.fill(fill);
    return buf;
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
