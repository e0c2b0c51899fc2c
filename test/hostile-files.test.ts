/**
 * Every file reader meets seeded random damage: bytes flipped, set, cut off,
 * with the checksums (model file, PNG chunks) recomputed so that the damage
 * reaches the parsers behind them. Each damaged file is read or refused with
 * an error that names it, never a TypeError or RangeError from deep inside,
 * and never an exception that is not an Error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../ts/backend/load.js';
import { encodeIdx, parseIdxBytes } from '../ts/data/idx.js';
import { decodeImage, decodeRgba } from '../ts/image/decode.js';
import { decodeJpegEighth } from '../ts/image/jpeg-eighth.js';
import { toOnnx } from '../ts/interop/onnx-export.js';
import { importOnnx } from '../ts/interop/onnx-import.js';
import { crc32 } from '../ts/io/crc32.js';
import { deserializeModel, serializeModel } from '../ts/model-file.js';
import { createPreset } from '../ts/models/presets.js';
import { adam } from '../ts/optim/optimizer.js';
import { Rng } from '../ts/rng.js';

const be = await initBackend({ backend: 'simd' });
const MUTANTS = 300;

/** A copy of `b` with seeded damage: cut short, or 1-8 bytes flipped, set to 0 or 0xff, or to random values. */
function damage(b: Uint8Array, rng: Rng): Uint8Array {
  const x = Uint8Array.from(b), kind = rng.int(6);
  if (kind === 0) return x.subarray(0, rng.int(x.length));
  for (let n = 1 + rng.int(8); n > 0; n--) {
    const at = rng.int(x.length);
    x[at] = kind === 1 ? x[at] ^ (1 << rng.int(8)) : kind === 2 ? 0xff : kind === 3 ? 0 : rng.int(256);
    if (kind === 4) for (let j = 1; j < 4 && at + j < x.length; j++) x[at + j] = rng.int(256);
  }
  return x;
}

/** The model file's trailing CRC-32 recomputed, so the damage reaches the header and tensor parsers. */
function withModelCrc(b: Uint8Array): Uint8Array {
  if (b.length < 8) return b;
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

/** Every whole PNG chunk's CRC recomputed (a chunk whose length field was damaged ends the walk). */
function withPngCrcs(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 8; at + 12 <= b.length;) {
    const len = dv.getUint32(at);
    if (at + 12 + len > b.length) break;
    dv.setUint32(at + 8 + len, crc32(b.subarray(at + 4, at + 8 + len)));
    at += 12 + len;
  }
  return b;
}

/** Reads every mutant; returns the messages of refusals, and fails on an exception that is not a plain, named refusal. */
function survive(name: string, good: Uint8Array, read: (b: Uint8Array) => void, fix: (b: Uint8Array) => Uint8Array = (b) => b, seed = 1): string[] {
  const rng = new Rng(seed), refused: string[] = [];
  for (let i = 0; i < MUTANTS; i++) {
    const bytes = fix(damage(good, rng));
    try {
      read(bytes);
    } catch (e) {
      const what = `${name}, mutant ${i}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`;
      expect(e, what).toBeInstanceOf(Error);
      expect(e instanceof TypeError || e instanceof RangeError, what).toBe(false);
      expect((e as Error).message, what).not.toMatch(/Cannot read|Cannot set|undefined|is not a function|Maximum call stack|Invalid typed array length|out of bounds/);
      refused.push((e as Error).message);
    }
  }
  return refused;
}

describe('damaged files are refused by name or read, never crash a reader', () => {
  it('JPEG (baseline, progressive, restart intervals, 4:2:0/4:2:2/4:4:4, gray), in full and at 1/8 scale', () => {
    const dir = new URL('./fixtures/jpeg-eighth/', import.meta.url).pathname;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.jpg'))) {
      const refused = survive(f, new Uint8Array(readFileSync(dir + f)), (b) => {
        decodeRgba(b, f);
        decodeRgba(b, f, { fitTo: [2, 2] });
        decodeJpegEighth(b);
      });
      for (const m of refused) expect(m).toMatch(new RegExp(`^${f.replace('.', '\\.')}: `));
    }
  });

  it('PNG of each colour type, with the chunks\' CRCs made to match the damage', () => {
    for (const [colorType, w, h] of [[6, 9, 7], [0, 20, 3], [2, 5, 5], [4, 3, 8]] as const) {
      const png = new PNG({ width: w, height: h });
      for (let i = 0; i < w * h * 4; i++) png.data[i] = (i * 37) & 255;
      const good = new Uint8Array(PNG.sync.write(png, { colorType }));
      const name = `type${colorType}.png`;
      for (const fix of [(b: Uint8Array) => b, withPngCrcs]) {
        const refused = survive(name, good, (b) => { decodeRgba(b, name); decodeImage(b, name); }, fix, colorType + 1);
        for (const m of refused) expect(m).toMatch(/^type\d\.png: /);
      }
    }
  });

  it('PGM, ASCII and binary', () => {
    for (const [name, good] of [
      ['ascii.pgm', new TextEncoder().encode('P2\n# a comment\n4 3\n255\n1 2 3 4\n5 6 7 8\n9 10 11 12\n')],
      ['binary.pgm', Uint8Array.from([...new TextEncoder().encode('P5\n4 3\n255\n'), ...Array.from({ length: 12 }, (_, i) => i * 20)])],
    ] as const) {
      for (const m of survive(name, good, (b) => { decodeRgba(b, name); })) expect(m).toMatch(new RegExp(`^${name.replace('.', '\\.')}: `));
    }
  });

  it('IDX', () => {
    const good = encodeIdx([3, 4, 4], Uint8Array.from({ length: 48 }, (_, i) => i));
    for (const m of survive('x.idx', good, (b) => { parseIdxBytes(b, 'x.idx'); })) expect(m).toMatch(/x\.idx/);
  });

  it('the model file, with its CRC made to match the damage (header, tensors, optimiser state)', () => {
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    const optimizer = adam({ learningRate: 1e-3 });
    const good = serializeModel(model, { optimizer, metadata: { classNames: ['a', 'b'] } });
    model.dispose();
    for (const fix of [(b: Uint8Array) => b, withModelCrc]) {
      const refused = survive('m.cnnw', good, (b) => {
        const l = deserializeModel(b, { backend: be, source: 'm.cnnw' });
        l.model.dispose();
        l.optimizer?.dispose();
      }, fix);
      for (const m of refused) expect(m).toMatch(/^m\.cnnw: /);
    }
  });

  it('ONNX', () => {
    const { model } = createPreset('lenet5-bn', { backend: be, seed: 1 });
    const good = toOnnx(model);
    model.dispose();
    for (const m of survive('m.onnx', good, (b) => importOnnx(b, { backend: be, source: 'm.onnx' }).dispose())) expect(m).toMatch(/^m\.onnx: /);
  });
});
