/** IDX reading in Node: transparent gzip (node:zlib) with a bound on the inflated size. */
import { gunzipBounded } from './download.js';
import { IdxError, isGzipped, MAX_IDX_VALUES, parseIdxBytes, type IdxArray } from './idx.js';

/** Refuse compressed input that inflates past this many bytes (header + the value limit). */
const MAX_INFLATED_BYTES = MAX_IDX_VALUES + 64;

/** Decompresses when `bytes` is gzip, else returns them as they are. */
export function maybeGunzip(bytes: Uint8Array, source: string): Uint8Array {
  if (!isGzipped(bytes)) return bytes;
  try {
    return gunzipBounded(bytes, MAX_INFLATED_BYTES, source);
  } catch (e) {
    throw new IdxError((e as Error).message);
  }
}

/** Parses an IDX u8 array, raw or gzip. `expectDims` checks the dimension count. */
export function parseIdx(input: Uint8Array, source: string, expectDims?: number): IdxArray {
  return parseIdxBytes(maybeGunzip(input, source), source, expectDims);
}
