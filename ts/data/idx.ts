/**
 * IDX files (the MNIST format): magic 0x0000 | type 0x08 (u8) | ndim, then ndim
 * big-endian u32 dimensions, then the data. Raw or gzip-compressed.
 *
 * Everything is validated before allocating: magic, dimension count, declared
 * sizes against a limit and against the bytes present. Errors name the source.
 * This file has no Node imports: browsers call {@link parseIdxBytes} after
 * decompressing with DecompressionStream; Node uses parseIdx (idx-node.ts).
 */

/** Refuse files declaring more than this many values (MNIST train images: 47M). */
export const MAX_IDX_VALUES = 256 * 1024 * 1024;
/** A parsed IDX array of unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** A problem with an IDX file; the message names the file and what is wrong. */
export class IdxError extends Error {}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** Whether `b` starts with the gzip signature. */
export function isGzipped(b: Uint8Array): boolean {
  return isGzip(b);
}

/** Parses an uncompressed IDX u8 array. */
export function parseIdxBytes(bytes: Uint8Array, source: string, expectDims?: number): IdxArray {
  if (isGzip(bytes)) throw new IdxError(`${source}: is gzip-compressed; decompress it first`);
  if (bytes.length < 4) throw new IdxError(`${source}: too short to be an IDX file (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxError(`${source}: bad magic 0x${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')} (expected 0x000008NN)`);
  }
  if (bytes[2] !== 0x08) throw new IdxError(`${source}: element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  const ndim = bytes[3];
  if (ndim < 1 || ndim > 4) throw new IdxError(`${source}: ${ndim} dimensions (expected 1 to 4)`);
  if (expectDims !== undefined && ndim !== expectDims) throw new IdxError(`${source}: ${ndim} dimensions, expected ${expectDims}`);
  const header = 4 + 4 * ndim;
  if (bytes.length < header) throw new IdxError(`${source}: truncated header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  if (count > MAX_IDX_VALUES) throw new IdxError(`${source}: declares ${dims.join('x')} = ${count} values, more than the limit ${MAX_IDX_VALUES}`);
  const have = bytes.length - header;
  if (have < count) throw new IdxError(`${source}: truncated: header declares ${dims.join('x')} = ${count} bytes of data, file has ${have}`);
  if (have > count) throw new IdxError(`${source}: ${have - count} bytes of trailing data after ${dims.join('x')} values`);
  return { dims, data: bytes.subarray(header, header + count) };
}

/** Encodes a u8 array as IDX (used to write the bundled sample and test files). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeIdx: dims ${dims.join('x')} hold ${count} values, data has ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + count);
  const dv = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Images [n, rows, cols] and labels [n] of one split, validated against each other. */
export interface LabelledImages {
  count: number;
  rows: number;
  cols: number;
  /** n * rows * cols pixels, row-major, 0..255. */
  images: Uint8Array;
  /** n labels (16-bit for image folders of more than 256 classes). */
  labels: Uint8Array | Uint16Array;
}

/** Checks an image file and a label file belong together and labels are in 0..classes-1. */
export function pairImagesLabels(images: IdxArray, labels: IdxArray, imgSource: string, labSource: string, classes = 10): LabelledImages {
  if (images.dims.length !== 3) throw new IdxError(`${imgSource}: images must have 3 dimensions, got ${images.dims.length}`);
  if (labels.dims.length !== 1) throw new IdxError(`${labSource}: labels must have 1 dimension, got ${labels.dims.length}`);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) throw new IdxError(`${labSource}: ${labels.dims[0]} labels for ${n} images in ${imgSource}`);
  if (n === 0) throw new IdxError(`${imgSource}: holds no images`);
  for (let i = 0; i < n; i++) {
    if (labels.data[i] >= classes) throw new IdxError(`${labSource}: label ${labels.data[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  return { count: n, rows, cols, images: images.data, labels: labels.data };
}
