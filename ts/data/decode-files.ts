/**
 * Image files decoded and fitted (Node), on the calling thread or shared out
 * in chunks to worker threads (data/decode-worker.ts). Results come back in
 * file order whatever the threads' timing, so a strict load names the same
 * first bad file on any thread count.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { decodeRgba, maxImageFileBytes } from '../image/decode.js';
import { readFileCapped } from '../io/files.js';
import { threadEntry } from '../parallel/group.js';
import type { Fit } from '../image/prepare.js';
import { fitPicture } from './collect.js';

/** A file decoded and fitted (RGB planes, or MNIST's gray digit, at `size`; `from` its own [height, width]), or why it could not be. */
export type Decoded = { px: Uint8Array; colour: boolean; size: [number, number]; from: [number, number] } | { reason: string };

/** Settings a decoding thread is started with. */
export interface DecodeSettings { size: [number, number] | null; fit: Fit; maxSide?: number }

/** Reads, decodes and fits one file; a problem is returned as its reason (without the file name). */
export function decodeFile(file: string, s: DecodeSettings): Decoded {
  try {
    // A picture resized to a size set beforehand may be decoded smaller (a large JPEG at 1/8 scale); `full` keeps its own size.
    const img = decodeRgba(readFileCapped(file, 'an image', maxImageFileBytes(s.maxSide)), file, { maxSide: s.maxSide, fitTo: s.size && s.fit !== 'digit' ? s.size : null });
    const size: [number, number] = s.size ?? [img.height, img.width];
    const own = 'full' in img ? img.full : img;
    return { ...fitPicture(img, size, s.fit, file), size, from: [own.height, own.width] };
  } catch (e) {
    return { reason: (e as Error).message.replace(`${file}: `, '') };
  }
}

/** Files a thread decodes at a time. */
const CHUNK = 256;

/**
 * Decodes `files` at one size on `threads` threads (1: this one). `each(k, r)`
 * sees every result in file order; when it throws, decoding stops and the
 * promise rejects with its error.
 */
export async function decodeFiles(files: string[], s: DecodeSettings, threads: number, each: (k: number, r: Decoded) => void): Promise<Decoded[]> {
  if (threads <= 1 || files.length <= CHUNK) {
    return files.map((f, k) => { const r = decodeFile(f, s); each(k, r); return r; });
  }
  let url = new URL('./decode-worker.js', import.meta.url);
  if (!existsSync(url)) url = new URL('../../dist/data/decode-worker.js', import.meta.url); // the TypeScript sources (tests) use the built one
  const chunks = Math.ceil(files.length / CHUNK);
  const out: Decoded[][] = new Array(chunks);
  let next = 0, emitted = 0;
  // Raised when decoding ends early: the threads stop between files and end by themselves (decode-worker.ts).
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const t = threadEntry(url);
  const workers = Array.from({ length: Math.min(threads, chunks) }, () => {
    const w = new Worker(t.entry, { workerData: { settings: s, stop }, eval: t.eval });
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    return { w, exited };
  });
  try {
    await new Promise<void>((resolve, rejectOnce) => {
      // Once decoding has failed, results still arriving are dropped: `each` is not called again.
      let failed = false;
      const reject = (e: unknown) => { failed = true; rejectOnce(e); };
      const give = (w: Worker) => {
        if (next >= chunks) return;
        const c = next++;
        w.postMessage({ chunk: c, files: files.slice(c * CHUNK, (c + 1) * CHUNK) });
      };
      for (const { w } of workers) {
        w.on('message', (m: { chunk: number; results: Decoded[] }) => {
          if (failed) return;
          out[m.chunk] = m.results;
          try {
            // Everything up to the first missing chunk, in order.
            for (; emitted < chunks && out[emitted]; emitted++) out[emitted].forEach((r, i) => each(emitted * CHUNK + i, r));
          } catch (e) {
            reject(e);
            return;
          }
          if (emitted === chunks) resolve();
          else give(w);
        });
        w.on('error', (e) => reject(new Error(`decoding images: a worker thread failed: ${e.message}`)));
        w.on('exit', (code) => { if (emitted < chunks) reject(new Error(`decoding images: a worker thread exited (code ${code})`)); });
        give(w);
      }
    });
  } finally {
    // Never terminate(): a thread terminated while zlib inflates a PNG aborts the process (Node's
    // "close before init" assertion, on Node 20 to 24). A thread ends within one file of the flag.
    Atomics.store(stop, 0, 1);
    for (const { w } of workers) w.postMessage('stop');
    await Promise.all(workers.map((x) => x.exited));
  }
  return out.flat();
}
