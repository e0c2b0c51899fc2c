/**
 * Preparing a digit picture like MNIST: grayscale, white digit on black, the
 * digit's bounding box scaled to fit 20x20 (aspect kept), placed in 28x28 with
 * its centre of mass at the centre. Used by `cnn-wasm predict` and the web demo.
 */

/** A grayscale image, values 0..255, row-major. */
export interface Gray {
  width: number;
  height: number;
  data: Float32Array;
}

/** Bilinear sample of `img` at (x, y) in pixel-centre coordinates; 0 outside. */
function sample(img: Gray, x: number, y: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= img.width || yy >= img.height ? 0 : img.data[yy * img.width + xx]);
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

/**
 * MNIST-style 28x28 u8 image from any grayscale picture. A light background is
 * inverted; the digit is cropped, scaled to fit 20x20 (area-averaged when
 * shrinking), and shifted so its centre of mass lands at (14, 14).
 */
export function toMnist(img: Gray): Uint8Array {
  const n = img.width * img.height;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += img.data[i];
  mean /= n;
  const ink = new Float32Array(n);
  for (let i = 0; i < n; i++) ink[i] = mean > 127 ? 255 - img.data[i] : img.data[i];
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) { lo = Math.min(lo, ink[i]); hi = Math.max(hi, ink[i]); }
  if (hi - lo < 8) throw new Error('the image is blank (no digit found)');
  for (let i = 0; i < n; i++) ink[i] = ((ink[i] - lo) / (hi - lo)) * 255;
  // Bounding box of clearly inked pixels.
  let x0 = img.width, y0 = img.height, x1 = -1, y1 = -1;
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    if (ink[y * img.width + x] > 64) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const ow = Math.max(1, Math.round(bw * scale)), oh = Math.max(1, Math.round(bh * scale));
  // Resample the box to ow x oh, averaging over each output pixel's footprint.
  const src: Gray = { width: img.width, height: img.height, data: ink };
  const small = new Float32Array(ow * oh);
  const taps = Math.max(1, Math.ceil(1 / scale));
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let ty = 0; ty < taps; ty++) for (let tx = 0; tx < taps; tx++) {
      s += sample(src, x0 + (x + (tx + 0.5) / taps) / scale - 0.5, y0 + (y + (ty + 0.5) / taps) / scale - 0.5);
    }
    small[y * ow + x] = s / (taps * taps);
  }
  // Centre of mass of the resampled digit, placed at (14, 14).
  let m = 0, cx = 0, cy = 0;
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) { const v = small[y * ow + x]; m += v; cx += v * (x + 0.5); cy += v * (y + 0.5); }
  const dx = Math.round(14 - cx / m), dy = Math.round(14 - cy / m);
  const out = new Uint8Array(28 * 28);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const X = x + dx, Y = y + dy;
    if (X >= 0 && X < 28 && Y >= 0 && Y < 28) out[Y * 28 + X] = Math.max(0, Math.min(255, Math.round(small[y * ow + x])));
  }
  return out;
}
