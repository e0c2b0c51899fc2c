/** Pictures for tests: small colour PNG folders (pngjs), photo-sized JPEG folders (jpeg-js), EXIF blocks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { crc32 } from '../../ts/io/crc32.js';

/** A folder of small colour PNGs: three classes, the colour and a bar's position vary. */
export function writeColourFolder(root: string, perClass: number): void {
  const classes = { red: [220, 30, 30], green: [30, 200, 40], blue: [30, 40, 220] } as const;
  for (const [name, rgb] of Object.entries(classes)) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const png = new PNG({ width: 12, height: 10 });
      for (let p = 0; p < 120; p++) {
        const bar = p % 12 === (i % 10) + 1;
        png.data.set(bar ? [255, 255, 255, 255] : [rgb[0] - (i % 7) * 3, rgb[1] + (p % 5), rgb[2], 255], 4 * p);
      }
      writeFileSync(join(root, name, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
    }
  }
}

/**
 * A JPEG with an EXIF block declaring `orientation` (the Orientation tag of
 * IFD0, as cameras write it) inserted after its start-of-image marker; the
 * TIFF block in little- ('II') or big-endian ('MM') byte order.
 */
export function withExifOrientation(jpegBytes: Uint8Array, orientation: number, order: 'II' | 'MM' = 'II'): Uint8Array {
  return withApp1(jpegBytes, Uint8Array.of(0x45, 0x78, 0x69, 0x66, 0, 0, ...tiffOrientationBlock(orientation, order)));
}

/** A TIFF block (EXIF's body) whose IFD0 holds one entry, Orientation = `orientation`, in little- ('II') or big-endian ('MM') byte order. */
function tiffOrientationBlock(orientation: number, order: 'II' | 'MM'): Uint8Array {
  const tiff = new Uint8Array(8 + 2 + 12 + 4);
  const dv = new DataView(tiff.buffer), le = order === 'II';
  tiff.set([order.charCodeAt(0), order.charCodeAt(1)]);
  dv.setUint16(2, 42, le);
  dv.setUint32(4, 8, le); // IFD0 right after the header
  dv.setUint16(8, 1, le); // one entry
  dv.setUint16(10, 0x0112, le); // Orientation
  dv.setUint16(12, 3, le); // SHORT
  dv.setUint32(14, 1, le); // one value
  dv.setUint16(18, orientation, le); // in the entry's first two value bytes
  dv.setUint32(22, 0, le); // no next IFD
  return tiff;
}

/** A JPEG with an APP1 segment of `payload` inserted after its start-of-image marker. */
export function withApp1(jpegBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const len = payload.length + 2;
  return Uint8Array.of(0xff, 0xd8, 0xff, 0xe1, len >> 8, len & 255, ...payload, ...jpegBytes.subarray(2));
}

/**
 * A folder of photo-sized JPEGs (jpeg-js, quality 85): two classes, a warm and
 * a cool scene with stripes whose phase varies; every third picture is stored
 * sideways with EXIF orientation 6, as a phone held upright stores it.
 */
export function writePhotoFolder(root: string, perClass: number, width = 240, height = 176): void {
  for (const [name, tint] of [['warm', [200, 120, 60]], ['cool', [60, 120, 200]]] as const) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const sideways = i % 3 === 2, w = sideways ? height : width, h = sideways ? width : height;
      const rgba = new Uint8Array(w * h * 4);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const stripe = Math.floor((x + 3 * i) / 12) % 2 === 0 ? 40 : 0;
          rgba.set([tint[0] - stripe + (y % 16), tint[1] + ((x * 7) % 30), tint[2] - stripe, 255], 4 * (y * w + x));
        }
      }
      const bytes = new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, 85).data);
      writeFileSync(join(root, name, `${String(i).padStart(3, '0')}.jpg`), sideways ? withExifOrientation(bytes, 6) : bytes);
    }
  }
}

/** A PNG with an eXIf chunk declaring `orientation` inserted before its first IDAT (or, with `afterData`, before IEND). */
export function withPngExif(pngBytes: Uint8Array, orientation: number, afterData = false): Uint8Array {
  const tiff = tiffOrientationBlock(orientation, 'MM'); // big-endian, as PNG itself is
  const chunk = new Uint8Array(12 + tiff.length), cv = new DataView(chunk.buffer);
  cv.setUint32(0, tiff.length);
  chunk.set([0x65, 0x58, 0x49, 0x66], 4); // eXIf
  chunk.set(tiff, 8);
  cv.setUint32(8 + tiff.length, crc32(chunk.subarray(4, 8 + tiff.length)) >>> 0);
  // Chunks from byte 8: the first IDAT (or IEND) is where the new one goes.
  let at = 8;
  const type = (i: number) => String.fromCharCode(...pngBytes.subarray(i + 4, i + 8));
  while (type(at) !== (afterData ? 'IEND' : 'IDAT')) at += 12 + new DataView(pngBytes.buffer, pngBytes.byteOffset).getUint32(at);
  return Uint8Array.from([...pngBytes.subarray(0, at), ...chunk, ...pngBytes.subarray(at)]);
}
