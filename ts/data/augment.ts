/**
 * Data augmentation of u8 pictures [C, H, W], seeded by the training step and
 * the image's place in its batch: the same step gives every image the same
 * transformation whichever worker stages it, so any worker count trains to
 * the same bits. Each image draws, in this order: a shift (whole pixels), a
 * horizontal flip, a rotation and a scaling about its centre (bilinear,
 * edges clamped), then a brightness and a contrast change.
 */
import { Rng } from '../rng.js';

/** What `fit({ augment })` and `--augment` may do to each training image. */
export interface Augment {
  /** Shift by up to this many pixels each way (whole pixels). */
  shift?: number;
  /** Flip left-right half the time. */
  flip?: boolean;
  /** Rotate by up to this many degrees each way. */
  rotate?: number;
  /** Scale by up to this fraction each way (0.1: 0.9 to 1.1). */
  scale?: number;
  /** Add up to this fraction of 255 each way. */
  brightness?: number;
  /** Multiply the distance from mid-gray by up to this fraction each way. */
  contrast?: number;
}

const KEYS = ['shift', 'flip', 'rotate', 'scale', 'brightness', 'contrast'] as const;

/** Validates an augmentation, naming what is wrong; returns a copy. */
export function checkAugment(a: unknown, where: string): Augment {
  if (typeof a !== 'object' || a === null) throw new Error(`${where}: augment must be an object such as { shift: 2, flip: true }`);
  const o = a as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(KEYS as readonly string[]).includes(k)) throw new Error(`${where}: augment.${k} is not an augmentation (${KEYS.join(', ')})`);
  const num = (k: string, max: number) => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw new Error(`${where}: augment.${k} must be a number from 0 to ${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (o.flip !== undefined && typeof o.flip !== 'boolean') throw new Error(`${where}: augment.flip must be true or false, got ${JSON.stringify(o.flip)}`);
  const shift = num('shift', 1024);
  if (shift !== undefined && !Number.isInteger(shift)) throw new Error(`${where}: augment.shift must be a whole number of pixels, got ${shift}`);
  return { shift, flip: o.flip as boolean | undefined, rotate: num('rotate', 180), scale: num('scale', 0.9), brightness: num('brightness', 1), contrast: num('contrast', 1) };
}

/** The seed of the image at `position` in the batch of the step seeded `stepSeed`. */
function imageSeed(stepSeed: number, position: number): number {
  const lo = stepSeed % 2 ** 32, hi = Math.floor(stepSeed / 2 ** 32);
  return ((lo ^ Math.imul(position + 1, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca6b)) >>> 0);
}

/**
 * Writes the augmented `src` [C, H, W] into `dst` (the same size), as the
 * image at `position` of the batch of step `stepSeed` is augmented.
 */
export function augmentInto(dst: Uint8Array, src: Uint8Array, shape: readonly number[], a: Augment, stepSeed: number, position: number): void {
  const [c, h, w] = shape, plane = h * w;
  const rng = new Rng(imageSeed(stepSeed, position));
  const u = () => rng.uniform() * 2 - 1; // in [-1, 1)
  const dx = a.shift ? Math.round(u() * a.shift) : 0, dy = a.shift ? Math.round(u() * a.shift) : 0;
  const flip = a.flip ? rng.uniform() < 0.5 : false;
  const angle = a.rotate ? (u() * a.rotate * Math.PI) / 180 : 0;
  const s = a.scale ? 1 + u() * a.scale : 1;
  const bright = a.brightness ? u() * a.brightness * 255 : 0;
  const contrast = a.contrast ? 1 + u() * a.contrast : 1;
  const photometric = bright !== 0 || contrast !== 1;
  if (angle === 0 && s === 1) {
    // Whole-pixel moves: each output pixel is one source pixel through the brightness/contrast table.
    const lut = tableOf(photometric, contrast, bright);
    for (let ch = 0; ch < c; ch++) {
      const base = ch * plane;
      for (let y = 0; y < h; y++) {
        const sy = y - dy < 0 ? 0 : y - dy > h - 1 ? h - 1 : y - dy, row = base + sy * w, out = base + y * w;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) - dx;
          dst[out + x] = lut[src[row + (sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx)]];
        }
      }
    }
    return;
  }
  // The inverse map of an output pixel's centre: undo the shift, the flip, then the rotation and scaling about the centre.
  const cx = (w - 1) / 2, cy = (h - 1) / 2, cos = Math.cos(angle) / s, sin = Math.sin(angle) / s;
  const k = photometric ? contrast : 1, add = photometric ? 127.5 - 127.5 * contrast + bright : 0;
  for (let y = 0; y < h; y++) {
    const uy = y - dy - cy, rowX = sin * uy + cx, rowY = cos * uy + cy;
    for (let x = 0; x < w; x++) {
      const ux = (flip ? w - 1 - x : x) - dx - cx;
      let sx = cos * ux + rowX, sy = -sin * ux + rowY;
      sx = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
      sy = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
      const x0 = sx | 0, y0 = sy | 0, fx = sx - x0, fy = sy - y0;
      const x1 = x0 < w - 1 ? x0 + 1 : x0, y1 = y0 < h - 1 ? y0 + 1 : y0;
      const a00 = (1 - fx) * (1 - fy), a01 = fx * (1 - fy), a10 = (1 - fx) * fy, a11 = fx * fy;
      const i00 = y0 * w + x0, i01 = y0 * w + x1, i10 = y1 * w + x0, i11 = y1 * w + x1, o = y * w + x;
      for (let p = 0; p < c * plane; p += plane) {
        const v = (src[p + i00] * a00 + src[p + i01] * a01 + src[p + i10] * a10 + src[p + i11] * a11) * k + add;
        // v + 0.5 truncated is Math.round(v) for v in (0, 255)
        dst[p + o] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
    }
  }
}

/** A table of what brightness and contrast make of each pixel value (the identity without them). */
const identityTable = Uint8Array.from({ length: 256 }, (_, v) => v);
function tableOf(photometric: boolean, contrast: number, bright: number): Uint8Array {
  if (!photometric) return identityTable;
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const x = (v - 127.5) * contrast + 127.5 + bright;
    t[v] = x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
  }
  return t;
}

/** Parses `--augment shift=2,flip,rotate=10,scale=0.1,brightness=0.2,contrast=0.2`. */
export function parseAugment(spec: string): Augment {
  const o: Record<string, unknown> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    if (k === 'flip' && v === undefined) o.flip = true;
    else if (v === undefined || v.trim() === '' || !Number.isFinite(Number(v))) throw new Error(`--augment: '${part}' is not name=number (or flip)`);
    else o[k] = Number(v);
  }
  return checkAugment(o, '--augment');
}
