/**
 * Image formats without a decoder (browser-safe): which format bytes hold,
 * the size PNG and JPEG headers declare (checked before anything is
 * decoded), and PGM, which is read here in full.
 */
import type { Gray } from './mnist.js';

/** File name endings read as images (image folders, pictures chosen in a page, `predict` on a directory). */
export const IMAGE_FILE_NAME = /\.(png|jpe?g|pgm)$/i;

/** File name endings of pictures this library cannot read (phones' HEIC, the web's WebP, AVIF and GIF, BMP, TIFF, JPEG XL): named when skipped, never silently passed over. */
export const OTHER_PICTURE_FILE = /\.(heic|heif|webp|avif|gif|bmp|tiff?|jxl)$/i;

/** Why a picture named like OTHER_PICTURE_FILE is skipped. */
export function otherPictureReason(name: string): string {
  const ext = /\.([^.]+)$/.exec(name)?.[1].toUpperCase() ?? '';
  return `${ext} pictures are not read; PNG, JPEG and PGM are (convert it, e.g. to JPEG)`;
}

/** Largest PNG/PGM side accepted (checked from the header, before decoding). */
export const MAX_IMAGE_SIDE = 4096;

/**
 * Largest image file read, in bytes, for images of at most maxSide x maxSide:
 * 8 bytes a pixel (a 16-bit RGBA PNG stored without compression; an ASCII
 * PGM needs at most 6) and 1 MiB for headers and metadata. Checked against
 * the file's size before it is read.
 */
export function maxImageFileBytes(maxSide = MAX_IMAGE_SIDE): number {
  return 8 * maxSide * maxSide + 2 ** 20;
}

/** A decoded picture: RGBA rows, 4 values a pixel, 0..255. */
export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Walks a JPEG's marker segments before its image data: `visit(marker, at,
 * len)` for each (`at` the offset of its 0xFF, `len` its length field) until
 * it returns a value, which is returned; undefined at the first scan, the
 * end, or bytes that are no segment.
 */
function jpegSegments<T>(bytes: Uint8Array, visit: (marker: number, at: number, len: number) => T | undefined): T | undefined {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) { at++; continue; } // fill byte
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { at += 2; continue; }
    if (marker === 0xda || marker === 0xd9) return undefined; // the image data (or the end) starts
    const len = (bytes[at + 2] << 8) | bytes[at + 3];
    if (len < 2) return undefined;
    const r = visit(marker, at, len);
    if (r !== undefined) return r;
    at += 2 + len;
  }
  return undefined;
}

/** Whether a JPEG marker starts a frame header: SOF0-SOF15, but not DHT, JPG and DAC, which share that range. */
const isFrameHeader = (marker: number): boolean => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** The size a JPEG declares in its frame header, read before anything is decoded; null if none is found. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  return jpegSegments(bytes, (marker, at) => (isFrameHeader(marker) && at + 9 < bytes.length
    ? { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] }
    : undefined)) ?? null;
}

/**
 * What kind of JPEG frame a file declares when it is one the decoder does not
 * read, as words for a message: lossless, hierarchical or arithmetic-coded
 * (its SOF marker), or samples of other than 8 bits (12-bit JPEGs, which the
 * decoder would read as 8-bit ones and give wrong pixels). Null for 8-bit
 * baseline, extended and progressive Huffman-coded frames, or when no frame
 * header is found.
 */
export function jpegUnreadFrame(bytes: Uint8Array): string | null {
  const frame = jpegSegments(bytes, (m, at) => (isFrameHeader(m) ? { marker: m, precision: at + 4 < bytes.length ? bytes[at + 4] : 8 } : undefined));
  if (frame === undefined) return null;
  const { marker, precision } = frame, sof = `SOF${marker - 0xc0}`;
  if (marker === 0xc3 || marker === 0xc7 || marker === 0xcb || marker === 0xcf) return `a lossless JPEG (${sof})`;
  if ((marker >= 0xc5 && marker <= 0xc7) || marker >= 0xcd) return `a hierarchical JPEG (${sof})`;
  if (marker >= 0xc9) return `an arithmetic-coded JPEG (${sof})`;
  if (precision !== 8) return `a JPEG of ${precision}-bit samples (${sof})`;
  return null;
}

/**
 * The EXIF orientation a JPEG declares (1-8: how its stored rows are to be
 * turned to show it upright, as cameras and phones write it), or 1 when it
 * declares none or its EXIF block is malformed (read as browsers do: only the
 * first APP1 Exif segment before the image data; every offset checked against
 * the bytes).
 */
export function jpegOrientation(bytes: Uint8Array): number {
  return jpegSegments(bytes, (marker, at, len) => {
    if (at + 2 + len > bytes.length) return 1;
    // APP1 "Exif\0\0", then a TIFF header: byte order, 42, the offset of IFD0 (from the TIFF header).
    const exif = marker === 0xe1 && len >= 8 && bytes[at + 4] === 0x45 && bytes[at + 5] === 0x78 && bytes[at + 6] === 0x69 && bytes[at + 7] === 0x66 && bytes[at + 8] === 0 && bytes[at + 9] === 0;
    return exif ? tiffOrientation(bytes.subarray(at + 10, at + 2 + len)) : undefined;
  }) ?? 1;
}

/**
 * The EXIF orientation a PNG declares in an eXIf chunk before its image data
 * (as browsers read it: one after IDAT is not applied), or 1. Every chunk
 * length is checked against the bytes; anything malformed counts as no turn.
 */
export function pngOrientation(bytes: Uint8Array): number {
  let at = 8;
  while (at + 8 <= bytes.length) {
    const len = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (type === 'IDAT' || type === 'IEND' || at + 12 + len > bytes.length) return 1;
    if (type === 'eXIf') return tiffOrientation(bytes.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  return 1;
}

/** The Orientation tag (0x0112) of a TIFF block's first IFD, or 1. */
function tiffOrientation(t: Uint8Array): number {
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49, big = t[0] === 0x4d && t[1] === 0x4d;
  if (!little && !big) return 1;
  const u16 = (i: number) => (little ? t[i] | (t[i + 1] << 8) : (t[i] << 8) | t[i + 1]);
  const u32 = (i: number) => (little ? (t[i] | (t[i + 1] << 8) | (t[i + 2] << 16)) + t[i + 3] * 2 ** 24 : ((t[i + 1] << 16) | (t[i + 2] << 8) | t[i + 3]) + t[i] * 2 ** 24);
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const n = u16(ifd);
  if (ifd + 2 + 12 * n > t.length) return 1; // entries declared past the block: malformed
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + 12 * k;
    // Orientation: type SHORT (3), count 1, the value in the entry's first two bytes.
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return u16(e + 2) === 3 && u32(e + 4) === 1 && v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * A picture turned upright by its EXIF orientation (1-8): what image viewers
 * and browsers show, and what the browser's createImageBitmap decodes to.
 * Orientations 5-8 swap width and height.
 */
export function orientRgba(img: Rgba, orientation: number): Rgba {
  if (orientation < 2 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5, ow = swap ? h : w, oh = swap ? w : h;
  const aligned = data.byteOffset % 4 === 0 ? data : data.slice(); // a pixel a 32-bit word
  const out = new Uint8Array(ow * oh * 4), src = new Uint32Array(aligned.buffer, aligned.byteOffset, w * h), dst = new Uint32Array(out.buffer);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // The stored pixel (sx, sy) shown at (x, y).
      let sx: number, sy: number;
      switch (orientation) {
        case 2: sx = w - 1 - x; sy = y; break; // mirrored
        case 3: sx = w - 1 - x; sy = h - 1 - y; break; // turned 180°
        case 4: sx = x; sy = h - 1 - y; break; // flipped
        case 5: sx = y; sy = x; break; // transposed
        case 6: sx = y; sy = h - 1 - x; break; // to be turned 90° clockwise
        case 7: sx = w - 1 - y; sy = h - 1 - x; break; // transversed
        default: sx = w - 1 - y; sy = x; break; // 8: to be turned 90° anticlockwise
      }
      dst[y * ow + x] = src[sy * w + sx];
    }
  }
  return { width: ow, height: oh, data: out };
}

/** Which image format bytes start like (PNG signature, JPEG start of image, PGM magic), or null: what decodeImage reads. */
export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | 'pgm' | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 2 && bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x32)) return 'pgm';
  return null;
}

/** The size a PNG's IHDR declares, or null when the bytes are too short to hold one. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: dv.getUint32(16, false), height: dv.getUint32(20, false) };
}

/** Decodes binary (P5) or ASCII (P2) PGM with maxval up to 65535. */
export function decodePgm(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Gray {
  const maxSide = o.maxSide ?? MAX_IMAGE_SIDE;
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && isPgmSpace(bytes[pos])) pos++;
      if (bytes[pos] === 0x23) { while (pos < bytes.length && bytes[pos] !== 0x0a) pos++; continue; }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !isPgmSpace(bytes[pos])) pos++;
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
    // ASCII values, read byte by byte: a string (and a decoder) per value made a large file cost seconds (docs/benchmarks.md).
    const len = bytes.length;
    for (let i = 0; i < n; i++) {
      for (;;) {
        while (pos < len && isPgmSpace(bytes[pos])) pos++;
        if (bytes[pos] === 0x23) { while (pos < len && bytes[pos] !== 0x0a) pos++; continue; }
        break;
      }
      if (pos >= len) throw new Error(`${source}: truncated PGM: ${i} of ${n} pixel values`);
      const start = pos;
      let v = 0;
      for (; pos < len && !isPgmSpace(bytes[pos]); pos++) {
        const c = bytes[pos];
        if (c < 0x30 || c > 0x39) {
          pos = start;
          throw new Error(`${source}: pixel ${i} is ${JSON.stringify(token().slice(0, 20))}, not a number`);
        }
        v = v * 10 + (c - 0x30);
      }
      if (v > maxval) throw tooBig(v, i);
      out[i] = (v / maxval) * 255;
    }
  }
  return { width, height, data: out };
}

/** Whether a byte separates PGM tokens: the bytes /\s/ matches (tab to carriage return, space, and 0xA0). */
function isPgmSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/** A PGM file as RGBA (gray in R, G and B; opaque): what decodeRgba and loadPictures read it as. */
export function pgmToRgba(bytes: Uint8Array, source: string, o: { maxSide?: number } = {}): Rgba {
  const g = decodePgm(bytes, source, o), n = g.width * g.height, data = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(g.data[i]);
    data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = v;
    data[4 * i + 3] = 255;
  }
  return { width: g.width, height: g.height, data };
}
