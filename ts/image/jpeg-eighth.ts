/**
 * A JPEG decoded at 1/8 scale (browser-safe): each 8x8 block becomes one
 * pixel, the block's mean, which its DC coefficient alone gives (the IDCT's
 * constant term). In a baseline file the AC coefficients are Huffman-decoded
 * only to be skipped; in a progressive one their scans are skipped whole. So
 * a 12-megapixel phone photo to be shrunk to a training size is read without
 * its full-size inverse DCT, colour conversion or pixels (what libjpeg's
 * scale_denom 8 does). Returns null for anything else (arithmetic-coded,
 * lossless, 12-bit, CMYK or Adobe-transformed, or malformed or cut-short
 * data): the caller then decodes in full, and the full decoder names what is
 * wrong. Work is bounded by the declared size and the file's length.
 */
import { jpegOrientation, jpegSize, orientRgba, type Rgba } from './formats.js';

/** A picture decoded smaller than it is, with its own (upright) size. */
export interface ReducedRgba extends Rgba { full: { width: number; height: number } }

/**
 * A JPEG to be shrunk to `fitTo` [height, width], decoded at 1/8 scale and
 * turned upright when it is at least 8 times that size each way (area
 * averaging to fitTo then sees each block as its mean, which it nearly is);
 * null when it is not that large, or not a file decodeJpegEighth reads.
 */
export function jpegEighthToFit(bytes: Uint8Array, fitTo: readonly [number, number]): ReducedRgba | null {
  const size = jpegSize(bytes);
  if (!size) return null;
  const orientation = jpegOrientation(bytes), turned = orientation >= 5;
  const full = turned ? { width: size.height, height: size.width } : size;
  if (full.width < 8 * fitTo[1] || full.height < 8 * fitTo[0]) return null;
  const small = decodeJpegEighth(bytes);
  return small ? { ...orientRgba(small, orientation), full } : null;
}

/** A Huffman table: a 9-bit lookahead (`(length << 8) | symbol`, 0 for longer codes) and the canonical code ranges by length. */
interface Huffman { lookup: Uint16Array; maxcode: Int32Array; mincode: Int32Array; valptr: Int32Array; symbols: Uint8Array }

const LOOKAHEAD = 9;

/** The table of a DHT entry: code counts per length 1-16, then the symbols; null if over-subscribed. */
function huffman(counts: Uint8Array, symbols: Uint8Array): Huffman | null {
  const maxcode = new Int32Array(18).fill(-1), mincode = new Int32Array(17), valptr = new Int32Array(17), lookup = new Uint16Array(1 << LOOKAHEAD);
  let code = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    valptr[len] = k;
    mincode[len] = code;
    for (let i = 0; i < n; i++, code++, k++) {
      if (code >= 1 << len) return null; // more codes than this length holds
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        lookup.fill((len << 8) | symbols[k], code << shift, (code + 1) << shift);
      }
    }
    if (n > 0) maxcode[len] = code - 1;
    code <<= 1;
  }
  return { lookup, maxcode, mincode, valptr, symbols };
}

/** A frame's component: sampling factors, tables, and each block's quantised DC coefficient (a grid `perLine` blocks wide, whole MCUs). */
interface Component { id: number; h: number; v: number; tq: number; td: number; ta: number; q: number; perLine: number; perColumn: number; cols: number; rows: number; dc: Float64Array; dcScans: number }

/** How a scan's blocks are read: a baseline block (DC difference, AC codes skipped), a progressive first DC scan, or a DC refinement bit. */
type ScanKind = 'baseline' | 'dcFirst' | 'dcRefine';

/** DC scans a file may hold before it is left to the full decoder (a first scan and refinements of up to 13 bits, per component). */
const MAX_DC_SCANS = 14;

/** The 1/8-scale picture of a baseline or progressive JPEG, or null (see the file's comment). */
export function decodeJpegEighth(bytes: Uint8Array): Rgba | null {
  const end = bytes.length;
  if (end < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const dcQuant = new Float64Array(4).fill(NaN); // only each table's first (DC) step is needed
  const dcTables: (Huffman | null)[] = [null, null, null, null], acTables: (Huffman | null)[] = [null, null, null, null];
  let width = 0, height = 0, restart = 0, progressive = false;
  let comps: Component[] | null = null;
  let at = 2;
  for (;;) {
    if (at + 2 > end || bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) { at++; continue; }
    if (marker === 0xd9) {
      // The end: every component needs its DC coefficients.
      return comps && comps.every((c) => c.dcScans > 0) ? picture(comps, width, height) : null;
    }
    if (at + 4 > end) return null;
    const len = (bytes[at + 2] << 8) | bytes[at + 3], seg = at + 4, segEnd = at + 2 + len;
    if (len < 2 || segEnd > end) return null;
    if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) {
      // Baseline, extended sequential or progressive, Huffman-coded: precision, height, width, components.
      if (comps || len < 8 || bytes[seg] !== 8) return null;
      progressive = marker === 0xc2;
      height = (bytes[seg + 1] << 8) | bytes[seg + 2];
      width = (bytes[seg + 3] << 8) | bytes[seg + 4];
      const n = bytes[seg + 5];
      if (height === 0 || width === 0 || (n !== 1 && n !== 3) || len < 8 + 3 * n) return null;
      if (n === 3 && bytes[seg + 6] === 0x52 && bytes[seg + 9] === 0x47 && bytes[seg + 12] === 0x42) return null; // components named R, G, B: not YCbCr
      comps = [];
      for (let i = 0; i < n; i++) {
        const c = seg + 6 + 3 * i, h = bytes[c + 1] >> 4, v = bytes[c + 1] & 15, tq = bytes[c + 2];
        if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3 || comps.some((x) => x.id === bytes[c])) return null;
        comps.push({ id: bytes[c], h, v, tq, td: 0, ta: 0, q: NaN, perLine: 0, perColumn: 0, cols: 0, rows: 0, dc: new Float64Array(0), dcScans: 0 });
      }
      const hmax = Math.max(...comps.map((c) => c.h)), vmax = Math.max(...comps.map((c) => c.v));
      if (comps.some((c) => hmax % c.h !== 0 || vmax % c.v !== 0)) return null;
      const mcusX = Math.ceil(width / (8 * hmax)), mcusY = Math.ceil(height / (8 * vmax));
      for (const c of comps) {
        c.perLine = mcusX * c.h;
        c.perColumn = mcusY * c.v;
        // The blocks a scan of this component alone covers (its own size, not whole MCUs).
        c.cols = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
        c.rows = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
        c.dc = new Float64Array(c.perLine * c.perColumn);
      }
    } else if (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4) {
      return null; // lossless, hierarchical or arithmetic-coded
    } else if (marker === 0xdb) {
      for (let p = seg; p < segEnd;) {
        const pq = bytes[p] >> 4, tq = bytes[p] & 15, size = pq === 0 ? 64 : 128;
        if (pq > 1 || tq > 3 || p + 1 + size > segEnd) return null;
        dcQuant[tq] = pq === 0 ? bytes[p + 1] : (bytes[p + 1] << 8) | bytes[p + 2];
        p += 1 + size;
      }
    } else if (marker === 0xc4) {
      for (let p = seg; p < segEnd;) {
        const tc = bytes[p] >> 4, th = bytes[p] & 15;
        if (tc > 1 || th > 3 || p + 17 > segEnd) return null;
        const counts = bytes.subarray(p + 1, p + 17);
        let total = 0;
        for (const c of counts) total += c;
        if (total > 256 || p + 17 + total > segEnd) return null;
        const t = huffman(counts, bytes.slice(p + 17, p + 17 + total));
        if (!t) return null;
        (tc === 0 ? dcTables : acTables)[th] = t;
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      if (len < 4) return null;
      restart = (bytes[seg] << 8) | bytes[seg + 1];
    } else if (marker === 0xee && len >= 7 && bytes[seg] === 0x41 && bytes[seg + 1] === 0x64 && bytes[seg + 2] === 0x6f && bytes[seg + 3] === 0x62 && bytes[seg + 4] === 0x65) {
      return null; // an Adobe marker: its colour transform is the full decoder's business
    } else if (marker === 0xda) {
      if (!comps) return null;
      const ns = bytes[seg];
      if (ns < 1 || ns > comps.length || len < 6 + 2 * ns) return null;
      const p = seg + 1 + 2 * ns, ss = bytes[p], se = bytes[p + 1], ah = bytes[p + 2] >> 4, al = bytes[p + 2] & 15;
      const kind: ScanKind | 'ac' | null = !progressive
        ? (ss === 0 && se === 63 && ah === 0 && al === 0 ? 'baseline' : null)
        : ss === 0 ? (se === 0 && al <= 13 ? (ah === 0 ? 'dcFirst' : 'dcRefine') : null) : se >= ss && se <= 63 ? 'ac' : null;
      if (kind === null) return null;
      if (kind === 'ac') {
        // The AC coefficients are not needed: on to the next marker.
        at = nextMarker(bytes, segEnd);
        if (at < 0) return null;
        continue;
      }
      const scomps: Component[] = [];
      for (let i = 0; i < ns; i++) {
        const c = comps.find((x) => x.id === bytes[seg + 1 + 2 * i]);
        if (!c || scomps.includes(c)) return null;
        c.td = bytes[seg + 2 + 2 * i] >> 4;
        c.ta = bytes[seg + 2 + 2 * i] & 15;
        if (kind !== 'dcRefine' && (c.td > 3 || !dcTables[c.td])) return null;
        if (kind === 'baseline' && (c.ta > 3 || !acTables[c.ta])) return null;
        // A first scan fixes the component's DC step; a refinement needs a first scan before it.
        if (kind === 'dcRefine' ? c.dcScans === 0 : c.dcScans > 0) return null;
        if (kind !== 'dcRefine') c.q = dcQuant[c.tq];
        if (Number.isNaN(c.q) || ++c.dcScans > MAX_DC_SCANS) return null;
        scomps.push(c);
      }
      const after = scan(bytes, segEnd, scomps, kind, al, restart, dcTables, acTables);
      if (after < 0) return null;
      at = nextMarker(bytes, after);
      if (at < 0) return null;
      continue;
    }
    at = segEnd;
  }
}

/** The offset of the next marker at or after `from` (0xFF then neither 0x00, a fill 0xFF, nor a restart marker), or -1. */
function nextMarker(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const m = bytes[i + 1];
    if (m !== 0 && m !== 0xff && (m < 0xd0 || m > 0xd7)) return i;
  }
  return -1;
}

/**
 * Decodes one scan starting at `start` into its components' `dc` grids: the
 * MCUs of an interleaved scan, or one component's own blocks in raster order.
 * Returns where the reader stopped, or -1 if the data is malformed or cut short.
 */
function scan(bytes: Uint8Array, start: number, comps: Component[], kind: ScanKind, al: number, restart: number, dcTables: (Huffman | null)[], acTables: (Huffman | null)[]): number {
  const single = comps.length === 1;
  const mcusX = single ? comps[0].cols : comps[0].perLine / comps[0].h, mcusY = single ? comps[0].rows : comps[0].perColumn / comps[0].v;
  const scale = 2 ** al, end = bytes.length;
  let pos = start, buf = 0, cnt = 0, pad = 0;
  // Keeps at least 24 bits in buf (its low cnt bits); past the data or at a marker, zeros (counted in pad).
  const fill = () => {
    while (cnt <= 23) {
      let b = 0;
      if (pad === 0 && pos < end) {
        b = bytes[pos];
        if (b === 0xff) {
          if (pos + 1 < end && bytes[pos + 1] === 0) pos += 2;
          else { b = 0; pad += 8; }
        } else pos++;
      } else pad += 8;
      buf = ((buf << 8) | b) >>> 0;
      cnt += 8;
    }
  };
  const bits = (n: number): number => {
    if (n === 0) return 0;
    if (cnt < n) fill();
    cnt -= n;
    const v = (buf >>> cnt) & ((1 << n) - 1);
    buf &= (1 << cnt) - 1;
    return v;
  };
  const decode = (t: Huffman): number => {
    if (cnt < 16) fill();
    const e = t.lookup[(buf >>> (cnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)];
    if (e !== 0) {
      cnt -= e >> 8;
      buf &= (1 << cnt) - 1;
      return e & 255;
    }
    let code = bits(LOOKAHEAD);
    for (let len = LOOKAHEAD + 1; len <= 16; len++) {
      code = (code << 1) | bits(1);
      if (code <= t.maxcode[len]) return t.symbols[t.valptr[len] + code - t.mincode[len]];
    }
    return -1;
  };
  /** A block's DC difference (NaN if no code matches). */
  const dcDiff = (dc: Huffman): number => {
    const s = decode(dc);
    if (s < 0 || s > 11) return NaN;
    const diff = bits(s);
    return s > 0 && diff < 1 << (s - 1) ? diff + 1 - (1 << s) : diff;
  };
  /** A baseline block: its DC difference, and the AC coefficients skipped. */
  const block = (dc: Huffman, ac: Huffman): number => {
    const diff = dcDiff(dc);
    if (Number.isNaN(diff)) return NaN;
    for (let k = 1; k < 64;) {
      const rs = decode(ac);
      if (rs < 0) return NaN;
      const r = rs >> 4, z = rs & 15;
      if (z === 0) {
        if (r !== 15) break; // end of block
        k += 16;
      } else {
        k += r + 1;
        bits(z);
      }
      if (k > 64) return NaN;
    }
    return diff;
  };
  const preds = comps.map(() => 0);
  const total = mcusX * mcusY;
  for (let m = 0; m < total; m++) {
    if (restart > 0 && m > 0 && m % restart === 0) {
      // A restart marker: what is left of the last byte is padding (a whole byte left over is malformed),
      // the reader stands at the marker, and the predictions start again.
      if (cnt - pad >= 8) return -1;
      cnt = 0; buf = 0; pad = 0;
      while (pos < end && bytes[pos] === 0xff && bytes[pos + 1] === 0xff) pos++;
      if (pos + 1 >= end || bytes[pos] !== 0xff || bytes[pos + 1] < 0xd0 || bytes[pos + 1] > 0xd7) return -1;
      pos += 2;
      preds.fill(0);
    }
    const mx = m % mcusX, my = (m - mx) / mcusX;
    for (let ci = 0; ci < comps.length; ci++) {
      const c = comps[ci], dc = dcTables[c.td], ac = acTables[c.ta];
      const bh = single ? 1 : c.h, bv = single ? 1 : c.v;
      for (let v = 0; v < bv; v++) {
        for (let h = 0; h < bh; h++) {
          const at = (my * bv + v) * c.perLine + mx * bh + h;
          if (kind === 'dcRefine') {
            c.dc[at] += bits(1) * scale; // the next lower bit of the coefficient
            continue;
          }
          const diff = kind === 'baseline' ? block(dc!, ac!) : dcDiff(dc!);
          if (Number.isNaN(diff)) return -1;
          preds[ci] += diff;
          c.dc[at] = preds[ci] * scale;
        }
      }
    }
    if (pad > cnt) return -1; // bits past the data were used: cut short
  }
  return pos;
}

/** The 1/8-scale RGBA picture from the blocks' DC coefficients: mean = DC x step / 8 + 128, chroma repeated over the blocks it covers. */
function picture(comps: Component[], width: number, height: number): Rgba {
  const w = Math.ceil(width / 8), h = Math.ceil(height / 8), out = new Uint8Array(w * h * 4);
  const hmax = Math.max(...comps.map((c) => c.h)), vmax = Math.max(...comps.map((c) => c.v));
  const mean = (c: Component, x: number, y: number) => {
    const bx = comps.length === 1 ? x : Math.floor((x * c.h) / hmax), by = comps.length === 1 ? y : Math.floor((y * c.v) / vmax);
    return (c.dc[by * c.perLine + bx] * c.q) / 8 + 128;
  };
  const byte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x), luma = mean(comps[0], x, y);
      if (comps.length === 1) {
        out[o] = out[o + 1] = out[o + 2] = byte(luma);
      } else {
        // JFIF's YCbCr to RGB.
        const cb = mean(comps[1], x, y) - 128, cr = mean(comps[2], x, y) - 128;
        out[o] = byte(luma + 1.402 * cr);
        out[o + 1] = byte(luma - 0.344136 * cb - 0.714136 * cr);
        out[o + 2] = byte(luma + 1.772 * cb);
      }
      out[o + 3] = 255;
    }
  }
  return { width: w, height: h, data: out };
}
