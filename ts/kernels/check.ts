/** Argument validation shared by the kernel wrappers: errors name the kernel and the argument. */
import type { F32Buffer, I32Buffer } from '../backend/memory.js';

/** Throws unless `v` is a non-negative integer. */
export function checkDim(kernel: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${kernel}: ${name} must be a non-negative integer, got ${v}`);
}

/** Throws unless `v` is a positive integer. */
export function checkPositive(kernel: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${kernel}: ${name} must be a positive integer, got ${v}`);
}

/** Throws unless `buf` is live and holds at least `need` floats. */
export function checkBuffer(kernel: string, name: string, buf: F32Buffer | I32Buffer, need: number): void {
  if (buf.isFreed) throw new Error(`${kernel}: buffer ${name} was freed`);
  if (buf.length < need) throw new Error(`${kernel}: buffer ${name} holds ${buf.length} floats, needs ${need}`);
}

/** Throws unless `v` is a finite number. */
export function checkFinite(kernel: string, name: string, v: number): void {
  if (!Number.isFinite(v)) throw new Error(`${kernel}: ${name} must be a finite number, got ${v}`);
}
