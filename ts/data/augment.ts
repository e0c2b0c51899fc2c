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
  const finish = (v: number) => {
    const x = photometric ? (v - 127.5) * contrast + 127.5 + bright : v;
    return x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
  };
  const clampX = (x: number) => (x < 0 ? 0 : x > w - 1 ? w - 1 : x), clampY = (y: number) => (y < 0 ? 0 : y > h - 1 ? h - 1 : y);
  if (angle === 0 && s === 1) {
    // Whole-pixel moves: each output pixel copies one source pixel.
    for (let ch = 0; ch < c; ch++) {
      const base = ch * plane;
      for (let y = 0; y < h; y++) {
        const sy = clampY(y - dy);
        for (let x = 0; x < w; x++) {
          const fx = flip ? w - 1 - x : x;
          dst[base + y * w + x] = finish(src[base + sy * w + clampX(fx - dx)]);
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
        dst[p + o] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
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
