/**
 * Counts the instructions of a wasm binary's code section with the npm package
 * `wasmparser` (a full decoder: immediates are read, not scanned as bytes), so
 * tests that inspect the builds need no system tool such as wabt.
 */
import { BinaryReader, OperatorCodeNames } from 'wasmparser';

// wasmparser's BinaryReaderState is a const enum (not usable under isolatedModules): its values.
const ERROR = -1, END_WASM = 2, CODE_OPERATOR = 30;

/** How often each instruction occurs, by its text-format name (e.g. 'f32x4.mul'). */
export interface OpCensus {
  total: number;
  /** Instructions with the 0xFD (SIMD128) prefix. */
  simd: number;
  byName: Map<string, number>;
}

export function opCensus(bytes: Uint8Array): OpCensus {
  const reader = new BinaryReader();
  const copy = new Uint8Array(bytes); // its own ArrayBuffer
  reader.setData(copy.buffer, 0, copy.length, true);
  const byName = new Map<string, number>();
  let total = 0, simd = 0, ended = false;
  while (reader.read()) {
    if (reader.state === END_WASM) ended = true;
    if (reader.state !== CODE_OPERATOR) continue;
    const code = (reader.result as { code: number }).code;
    total++;
    if (code >> 12 === 0xfd) simd++;
    const name = OperatorCodeNames[code] ?? `0x${code.toString(16)}`;
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  if (reader.state === ERROR) throw new Error(`wasmparser: ${(reader.result as unknown as Error).message}`);
  if (!ended) throw new Error('wasmparser: the module ended before its last section');
  return { total, simd, byName };
}
