/** Decoding PNG and PGM files into grayscale images (Node: uses pngjs). */
import { PNG } from 'pngjs';
import type { Gray } from './mnist.js';
export { toMnist, type Gray } from './mnist.js';

/** Largest PNG/PGM side accepted (checked from the header, before decoding). */
export const MAX_IMAGE_SIDE = 4096;

/**
 * Decodes PNG (any bit depth / colour type). Transparency is composited on
 * white and on black, and the one with more contrast is kept: black ink on a
 * transparent background reads on white, white (or any colour of) ink whose
 * alpha carries the strokes reads on black.
 */
export function decodePng(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Gray {
  const max = o.maxSide ?? MAX_IMAGE_SIDE;
  // IHDR is the first chunk: width and height at bytes 16..23, big-endian.
  if (bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const w = dv.getUint32(16, false), h = dv.getUint32(20, false);
    if (w > max || h > max) {
      throw new Error(`${source}: PNG is ${w}x${h}, larger than the ${max}x${max} limit (a digit needs far fewer pixels; scale it down)`);
    }
  }
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new Error(`${source}: not a readable PNG (${(e as Error).message})`);
  }
  const { width, height, data } = png; // RGBA 8-bit after decoding
  const onWhite = new Float32Array(width * height), onBlack = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const a = data[4 * i + 3] / 255;
    const lum = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    onWhite[i] = lum * a + 255 * (1 - a);
    onBlack[i] = lum * a;
  }
  const range = (v: Float32Array) => {
    let lo = Infinity, hi = -Infinity;
    for (const x of v) { if (x < lo) lo = x; if (x > hi) hi = x; }
    return hi - lo;
  };
  return { width, height, data: range(onBlack) > range(onWhite) ? onBlack : onWhite };
}

/** Decodes binary (P5) or ASCII (P2) PGM with maxval up to 65535. */
export function decodePgm(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Gray {
  const maxSide = o.maxSide ?? MAX_IMAGE_SIDE;
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && /\s/.test(String.fromCharCode(bytes[pos]))) pos++;
      if (bytes[pos] === 0x23) { while (pos < bytes.length && bytes[pos] !== 0x0a) pos++; continue; }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    return new TextDecoder().decode(bytes.subarray(start, pos));
  };
  const magic = token();
  if (magic !== 'P5' && magic !== 'P2') throw new Error(`${source}: not a PGM file (magic ${JSON.stringify(magic.slice(0, 8))}, expected P5 or P2)`);
  const header = [token(), token(), token()];
  if (!header.every((t) => /^\d+$/.test(t))) throw new Error(`${source}: invalid PGM header: ${JSON.stringify(header.join(' ').slice(0, 40))} is not width, height and maxval`);
  const [width, height, maxval] = header.map(Number);
  if (![width, height].every((v) => v >= 1 && v <= maxSide) || !(maxval >= 1 && maxval <= 65535)) {
    throw new Error(`${source}: invalid PGM header (${width}x${height}, maxval ${maxval}; sides 1..${maxSide}, maxval 1..65535)`);
  }
  const tooBig = (v: number, i: number) => new Error(`${source}: pixel ${i} is ${v}, above the maxval ${maxval} the header declares`);
  const n = width * height;
  const out = new Float32Array(n);
  if (magic === 'P5') {
    pos++; // the single whitespace after maxval
    const bpp = maxval > 255 ? 2 : 1;
    if (bytes.length - pos < n * bpp) throw new Error(`${source}: truncated PGM: ${bytes.length - pos} bytes of pixels, expected ${n * bpp}`);
    for (let i = 0; i < n; i++) {
      const v = bpp === 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
      if (v > maxval) throw tooBig(v, i);
      out[i] = (v / maxval) * 255;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t = token();
      if (t === '') throw new Error(`${source}: truncated PGM: ${i} of ${n} pixel values`);
      if (!/^\d+$/.test(t)) throw new Error(`${source}: pixel ${i} is ${JSON.stringify(t.slice(0, 20))}, not a number`);
      const v = Number(t);
      if (v > maxval) throw tooBig(v, i);
      out[i] = (v / maxval) * 255;
    }
  }
  return { width, height, data: out };
}

/** Which image format bytes start like (PNG signature or PGM magic), or null: what decodeImage reads. */
export function imageFormat(bytes: Uint8Array): 'png' | 'pgm' | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 2 && bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) return 'pgm';
  return null;
}

/** Decodes by content: PNG signature or PGM magic. */
export function decodeImage(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Gray {
  const format = imageFormat(bytes);
  if (format === 'png') return decodePng(bytes, source, o);
  if (format === 'pgm') return decodePgm(bytes, source, o);
  throw new Error(`${source}: unsupported image format (PNG and PGM are supported)`);
}

