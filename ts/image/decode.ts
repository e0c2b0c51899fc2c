/** Decoding PNG, JPEG and PGM files into RGBA or grayscale images (Node: uses pngjs and jpeg-js). */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { inflateSync } from 'node:zlib';
import { crc32 } from '../io/crc32.js';
import type { Gray } from './mnist.js';
import { rgbaToGray } from './prepare.js';
import { decodePgm, imageFormat, jpegOrientation, jpegSize, jpegUnreadFrame, MAX_IMAGE_SIDE, orientRgba, pgmToRgba, pngOrientation, type Rgba } from './formats.js';
import { jpegEighthToFit, type ReducedRgba } from './jpeg-eighth.js';
export { toMnist, type Gray } from './mnist.js';
export type { ReducedRgba } from './jpeg-eighth.js';
export { decodePgm, imageFormat, jpegOrientation, jpegSize, jpegUnreadFrame, orientRgba, pngOrientation, pngSize, pgmToRgba, MAX_IMAGE_SIDE, maxImageFileBytes, type Rgba } from './formats.js';

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
  checkPngData(bytes, source);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new Error(`${source}: not a readable PNG (${(e as Error).message})`);
  }
  // RGBA 8-bit after decoding, turned upright by an eXIf orientation.
  const upright = orientRgba({ width: png.width, height: png.height, data: png.data }, pngOrientation(bytes));
  return rgbaToGray(upright.data, upright.width, upright.height);
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7's passes: x start, y start, x step, y step. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** Bytes a PNG's image data inflates to, from its header: filter byte + packed pixels per row (of each Adam7 pass when interlaced). */
export function pngInflatedSize(width: number, height: number, bitDepth: number, colorType: number, interlaced: boolean): number {
  const bits = PNG_CHANNELS[colorType] * bitDepth;
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bits) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  return ADAM7.reduce((t, [x0, y0, dx, dy]) => t + rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy)), 0);
}

/**
 * Checks a PNG's chunks against the bytes present and its image data against
 * its header before anything is decoded: the data is inflated with a ceiling of
 * what the header needs, so a decompression bomb (interlaced or not) costs at
 * most that much memory and time.
 */
function checkPngData(bytes: Uint8Array, source: string): PngData {
  const fail = (why: string): never => { throw new Error(`${source}: not a readable PNG (${why})`); };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (bytes.length < 33 || type(12) !== 'IHDR') fail('no IHDR chunk where the format puts it');
  const width = dv.getUint32(16), height = dv.getUint32(20), bitDepth = bytes[24], colorType = bytes[25], interlace = bytes[28];
  if (width === 0 || height === 0) fail(`it declares ${width}x${height} pixels`);
  if (!(colorType in PNG_CHANNELS) || ![1, 2, 4, 8, 16].includes(bitDepth)) fail(`colour type ${colorType} with bit depth ${bitDepth}`);
  if (interlace > 1) fail(`interlace method ${interlace}`);
  // The chunks are walked twice, the image data gathered into one buffer on the second walk: a file of
  // millions of tiny IDAT chunks costs its own size again, not an object a chunk (14x its size before).
  let at = 8, ended = false, trns = false, idatCount = 0, idatBytes = 0, firstIdat = 0;
  while (at + 12 <= bytes.length) {
    const len = dv.getUint32(at), t = type(at + 4);
    if (len > bytes.length - at - 12) fail(`chunk ${JSON.stringify(t)} declares ${len} bytes, ${Math.max(0, bytes.length - at - 12)} are present`);
    // A critical chunk (IHDR, PLTE, IDAT, IEND: upper-case first letter) must match its CRC, as libpng
    // and pngjs require: a damaged file is refused rather than decoded into wrong pixels.
    if ((bytes[at + 4] & 0x20) === 0 && crc32(bytes.subarray(at + 4, at + 8 + len)) !== dv.getUint32(at + 8 + len)) {
      fail(`chunk ${JSON.stringify(t)} at byte ${at} does not match its CRC: the file is damaged`);
    }
    if (t === 'IDAT') {
      if (idatCount++ === 0) firstIdat = at;
      idatBytes += len;
    }
    if (t === 'tRNS') trns = true;
    at += 12 + len;
    if (t === 'IEND') { ended = true; break; }
  }
  if (!ended) fail('truncated: no IEND chunk');
  if (idatCount === 0) fail('no image data (IDAT)');
  let idat: Uint8Array;
  if (idatCount === 1) idat = bytes.subarray(firstIdat + 8, firstIdat + 8 + dv.getUint32(firstIdat));
  else {
    idat = new Uint8Array(idatBytes);
    for (let c = firstIdat, got = 0; got < idatBytes;) {
      const len = dv.getUint32(c);
      if (type(c + 4) === 'IDAT') { idat.set(bytes.subarray(c + 8, c + 8 + len), got); got += len; }
      c += 12 + len;
    }
  }
  const need = pngInflatedSize(width, height, bitDepth, colorType, interlace === 1);
  let data: Uint8Array;
  try {
    data = inflateSync(idat, { maxOutputLength: need });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) fail(`its image data inflates to more than the ${need.toLocaleString('en-US')} bytes its ${width}x${height} header needs`);
    fail(`its image data does not inflate: ${(e as Error).message}`);
  }
  if (data!.length < need) fail(`truncated image data: ${data!.length.toLocaleString('en-US')} of the ${need.toLocaleString('en-US')} bytes its header needs`);
  return { width, height, bitDepth, colorType, interlaced: interlace === 1, trns, data: data! };
}

/** A PNG's header fields and its image data, inflated and checked against the header. */
interface PngData { width: number; height: number; bitDepth: number; colorType: number; interlaced: boolean; trns: boolean; data: Uint8Array }

/**
 * The common PNG (8 bits a sample, not interlaced, gray, gray + alpha, RGB or
 * RGBA, no tRNS) as RGBA: the scanlines unfiltered here from the data
 * checkPngData inflated, instead of inflating it a second time in pngjs.
 * Every other PNG returns null and goes to pngjs.
 */
function rgbaOfCommonPng(p: PngData): Rgba | null {
  const channels = { 0: 1, 4: 2, 2: 3, 6: 4 }[p.colorType];
  if (p.bitDepth !== 8 || p.interlaced || p.trns || channels === undefined) return null;
  const { width: w, height: h, data } = p, stride = w * channels;
  const rows = new Uint8Array(h * stride);
  for (let y = 0; y < h; y++) {
    const filter = data[y * (stride + 1)], src = y * (stride + 1) + 1, at = y * stride, up = at - stride;
    // One loop per filter type (the first pixel of a row has no left neighbour, the first row no row above).
    switch (filter) {
      case 0:
        for (let i = 0; i < stride; i++) rows[at + i] = data[src + i];
        break;
      case 1:
        for (let i = 0; i < stride; i++) rows[at + i] = (data[src + i] + (i >= channels ? rows[at + i - channels] : 0)) & 255;
        break;
      case 2:
        for (let i = 0; i < stride; i++) rows[at + i] = (data[src + i] + (y > 0 ? rows[up + i] : 0)) & 255;
        break;
      case 3:
        for (let i = 0; i < stride; i++) rows[at + i] = (data[src + i] + (((i >= channels ? rows[at + i - channels] : 0) + (y > 0 ? rows[up + i] : 0)) >> 1)) & 255;
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= channels ? rows[at + i - channels] : 0, b = y > 0 ? rows[up + i] : 0, c = y > 0 && i >= channels ? rows[up + i - channels] : 0;
          const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
          rows[at + i] = (data[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default: throw new Error(`filter type ${filter} in row ${y}`);
    }
  }
  const out = new Uint8Array(4 * w * h);
  for (let i = 0, n = w * h; i < n; i++) {
    const s = i * channels, d = 4 * i;
    if (channels <= 2) {
      out[d] = out[d + 1] = out[d + 2] = rows[s];
      out[d + 3] = channels === 2 ? rows[s + 1] : 255;
    } else {
      out[d] = rows[s]; out[d + 1] = rows[s + 1]; out[d + 2] = rows[s + 2];
      out[d + 3] = channels === 4 ? rows[s + 3] : 255;
    }
  }
  return { width: w, height: h, data: out };
}

/** Decodes by content (PNG, JPEG or PGM) into gray levels, as decodePng composites transparency. */
export function decodeImage(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Gray {
  const format = imageFormat(bytes);
  if (format === 'png') return decodePng(bytes, source, o);
  if (format === 'pgm') return decodePgm(bytes, source, o);
  if (format === 'jpeg') {
    const img = decodeJpeg(bytes, source, o);
    return rgbaToGray(img.data, img.width, img.height);
  }
  throw new Error(`${source}: unsupported image format (PNG, JPEG and PGM are supported)`);
}

/**
 * What decodeRgba and decodeJpeg take: the largest side accepted (default
 * 4,096), and `fitTo`, the [height, width] the picture is to be shrunk to
 * next: a JPEG (baseline or progressive) at least 8 times that size each way
 * is then decoded at 1/8 scale (each 8x8 block's mean, from its DC
 * coefficient alone: no full-size inverse DCT or pixels; docs/benchmarks.md
 * has the times), and the result carries its own size in `full`.
 */
export interface DecodeOptions { maxSide?: number; fitTo?: readonly [number, number] | null }

/**
 * What a decoder's exception says of a file: its own message where it names a
 * problem ("SOI not found", "invalid filter"), but a TypeError or RangeError is
 * the decoder tripping over damage it did not check for, whose message
 * ("Cannot read properties of undefined") would mean nothing to the user.
 */
function decoderProblem(e: unknown): string {
  if (e instanceof TypeError || e instanceof RangeError || !(e instanceof Error)) return 'its data is damaged or cut short';
  return e.message;
}

/** Decodes a baseline or progressive JPEG into RGBA, its declared size checked before decoding, turned upright by its EXIF orientation (as browsers show it). */
export function decodeJpeg(bytes: Uint8Array, source: string, o: DecodeOptions = {}): Rgba | ReducedRgba {
  const max = o.maxSide ?? MAX_IMAGE_SIDE;
  const size = jpegSize(bytes);
  if (!size) throw new Error(`${source}: not a readable JPEG (no frame header before the image data)`);
  if (size.width === 0 || size.height === 0 || size.width > max || size.height > max) {
    throw new Error(`${source}: JPEG is ${size.width}x${size.height}, ${size.width && size.height ? `larger than the ${max}x${max} limit (scale it down)` : 'an empty image'}`);
  }
  const unread = jpegUnreadFrame(bytes);
  if (unread) throw new Error(`${source}: ${unread}, a kind this decoder does not read: save it as a baseline or progressive JPEG, or as a PNG`);
  const reduced = o.fitTo ? jpegEighthToFit(bytes, o.fitTo) : null;
  if (reduced) return reduced;
  try {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: (max * max) / 1e6 + 1, maxMemoryUsageInMB: 1024 });
    return orientRgba({ width: img.width, height: img.height, data: img.data }, jpegOrientation(bytes));
  } catch (e) {
    throw new Error(`${source}: not a readable JPEG (${decoderProblem(e)})`);
  }
}

/** Decodes by content (PNG, JPEG or PGM) into RGBA: colour kept, gray as equal R, G and B, transparency as alpha; see DecodeOptions for `fitTo`. */
export function decodeRgba(bytes: Uint8Array, source: string, o: DecodeOptions = {}): Rgba | ReducedRgba {
  const format = imageFormat(bytes);
  if (format === 'jpeg') return decodeJpeg(bytes, source, o);
  if (format === 'png') {
    const max = o.maxSide ?? MAX_IMAGE_SIDE;
    if (bytes.length >= 24) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const w = dv.getUint32(16, false), h = dv.getUint32(20, false);
      if (w > max || h > max) throw new Error(`${source}: PNG is ${w}x${h}, larger than the ${max}x${max} limit (scale it down)`);
    }
    const parsed = checkPngData(bytes, source);
    let img: Rgba;
    try {
      const common = rgbaOfCommonPng(parsed);
      const png = common ? null : PNG.sync.read(Buffer.from(bytes));
      img = common ?? { width: png!.width, height: png!.height, data: new Uint8Array(png!.data.buffer, png!.data.byteOffset, png!.data.length) };
    } catch (e) {
      throw new Error(`${source}: not a readable PNG (${decoderProblem(e)})`);
    }
    return orientRgba(img, pngOrientation(bytes)); // an eXIf chunk's turn, as browsers apply it
  }
  if (format === 'pgm') return pgmToRgba(bytes, source, o);
  throw new Error(`${source}: unsupported image format (PNG, JPEG and PGM are supported)`);
}

