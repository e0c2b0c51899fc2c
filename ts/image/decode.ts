/** Decoding PNG and PGM files into grayscale images (Node: uses pngjs). */
import { PNG } from 'pngjs';
import type { Gray } from './mnist.js';
export { toMnist, type Gray } from './mnist.js';

/** Decodes PNG (any bit depth / colour type, alpha composited on white). */
export function decodePng(bytes: Uint8Array, source: string): Gray {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new Error(`${source}: not a readable PNG (${(e as Error).message})`);
  }
  const { width, height, data } = png; // RGBA 8-bit after decoding
  const out = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const a = data[4 * i + 3] / 255;
    const lum = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    out[i] = lum * a + 255 * (1 - a);
  }
  return { width, height, data: out };
}

/** Decodes binary (P5) or ASCII (P2) PGM with maxval up to 65535. */
export function decodePgm(bytes: Uint8Array, source: string): Gray {
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
  const width = Number(token()), height = Number(token()), maxval = Number(token());
  if (![width, height].every((v) => Number.isInteger(v) && v >= 1 && v <= 16384) || !(Number.isInteger(maxval) && maxval >= 1 && maxval <= 65535)) {
    throw new Error(`${source}: invalid PGM header (${width}x${height}, maxval ${maxval})`);
  }
  const n = width * height;
  const out = new Float32Array(n);
  if (magic === 'P5') {
    pos++; // the single whitespace after maxval
    const bpp = maxval > 255 ? 2 : 1;
    if (bytes.length - pos < n * bpp) throw new Error(`${source}: truncated PGM: ${bytes.length - pos} bytes of pixels, expected ${n * bpp}`);
    for (let i = 0; i < n; i++) {
      const v = bpp === 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
      out[i] = (v / maxval) * 255;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const t = token();
      if (t === '') throw new Error(`${source}: truncated PGM: ${i} of ${n} pixel values`);
      out[i] = (Number(t) / maxval) * 255;
    }
  }
  return { width, height, data: out };
}

/** Decodes by content: PNG signature or PGM magic. */
export function decodeImage(bytes: Uint8Array, source: string): Gray {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return decodePng(bytes, source);
  if (bytes.length >= 2 && bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) return decodePgm(bytes, source);
  throw new Error(`${source}: unsupported image format (PNG and PGM are supported)`);
}

