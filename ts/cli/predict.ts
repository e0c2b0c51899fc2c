/**
 * `cnn-wasm predict <model> <images...>`: classify PNG, JPEG and PGM files (or
 * directories of them), each prepared as the model's training prepared its
 * images. One image prints its top classes; several print a line each.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { decodeRgba, imageFormat, maxImageFileBytes, type Rgba } from '../image/decode.js';
import { IMAGE_FILE_NAME, OTHER_PICTURE_FILE, otherPictureReason } from '../image/formats.js';
import { fitOf, prepareImage, resizeTarget } from '../image/prepare.js';
import { FileProblem, openModel } from './common.js';
import { classNamesOf, MAGIC } from '../io/modelfile.js';
import { readFileCapped } from '../io/files.js';
import { ExitWith, parseIntFlag } from './options.js';

/** Images prepared and classified together (bounds the pixels held at once). */
const CHUNK = 256;

/** What an argument stands for: image files in order, or the reason it gives none. */
type Entry = { file: string } | { problem: string };

/** The image files under `dir` (subfolders too, not through links), sorted by path. */
function imagesUnder(dir: string): Entry[] {
  const out: Entry[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_FILE_NAME.test(e.name)) out.push({ file: p });
      else if (OTHER_PICTURE_FILE.test(e.name)) out.push({ problem: `${p}: ${otherPictureReason(p)}` }); // named, not passed over
    }
  };
  walk(dir);
  return out;
}

/** The arguments as image files: a directory gives its images, anything else is read as an image (and named if it is not one). */
function expand(args: string[]): Entry[] {
  return args.flatMap((a): Entry[] => {
    let dir = false;
    try {
      dir = statSync(a).isDirectory();
    } catch {
      return [{ file: a }]; // reading it names the problem (no such file, permission)
    }
    if (!dir) return [{ file: a }];
    try {
      const found = imagesUnder(a);
      return found.some((e) => 'file' in e) ? found : [...found, { problem: `${a}: no PNG, JPEG or PGM files in this directory (nor in its subfolders)` }];
    } catch (e) {
      return [{ problem: `${a}: cannot list the directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }];
    }
  });
}

/** Whether the file starts like a cnn-wasm model file (8 bytes read; false if it cannot be read). */
function isModelFile(path: string): boolean {
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) return false;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(8);
    return readSync(fd, head, 0, 8, 0) === 8 && head.toString('latin1') === MAGIC;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** One image's bytes, read and recognised as a PNG, JPEG or PGM; a problem is thrown as a message naming the file. */
function imageBytes(file: string): Uint8Array {
  const bytes = readFileCapped(file, 'a PNG, JPEG or PGM image', maxImageFileBytes());
  if (imageFormat(bytes) === null) throw new Error(`${file}: ${OTHER_PICTURE_FILE.test(file) ? otherPictureReason(file) : 'unsupported image format (PNG, JPEG and PGM are supported)'}`);
  return bytes;
}

/** One image decoded for a model that fits pictures to `fitTo` (null: reads them whole); a problem is thrown as a message naming the file. */
function decoded(file: string, bytes: Uint8Array, fitTo: [number, number] | null): Rgba {
  try {
    return decodeRgba(bytes, file, { fitTo });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message.replace(`${file}: `, '')}`);
  }
}

export function register(program: Command): void {
  program
    .command('predict <model> <images...>')
    .description('classify PNG, JPEG or PGM images (files, or directories of them, subfolders included), each prepared as the model\'s training prepared its images (MNIST-style centring for 28x28 digit models, else resized); one image lists its top classes, several print a line each')
    .option('--top <k>', 'how many classes to list (default: 3 for one image, 1 a line for several)')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .option('--json', 'print one JSON line per image')
    .action(async (path: string, images: string[], f: { top?: string; backend: string; json?: boolean }) => {
      const swapped = images.find(isModelFile);
      if (swapped) throw new FileProblem(`${swapped} is a cnn-wasm model file, not an image: the arguments look swapped (cnn-wasm predict <model> <image>)`);
      const entries = expand(images);
      const single = entries.length === 1 && images.length === 1 && 'file' in entries[0] && entries[0].file === images[0];
      const top = f.top === undefined ? (single ? 3 : 1) : parseIntFlag('--top', f.top, 1, 10);
      // One image is read before the model is opened: a file that is no image is named first.
      let first: Uint8Array | null = null;
      if (single) {
        try {
          first = imageBytes(images[0]);
        } catch (e) {
          throw new FileProblem((e as Error).message);
        }
      }
      const { model, metadata } = await openModel(path, f.backend);
      const names = classNamesOf(metadata, model.classes);
      const fit = fitOf(metadata.fit);
      const k = model.classes, size = model.inputSize, fitTo = resizeTarget(model.inputShape, fit);
      let failed = 0;
      const problem = (message: string) => {
        failed++;
        console.error(`cnn-wasm: ${message}`);
      };
      try {
        for (let at = 0; at < entries.length; at += CHUNK) {
          const files: string[] = [], pixels = new Uint8Array(Math.min(CHUNK, entries.length - at) * size);
          for (const e of entries.slice(at, at + CHUNK)) {
            if ('problem' in e) {
              problem(e.problem);
              continue;
            }
            try {
              const picture = decoded(e.file, single && first ? first : imageBytes(e.file), fitTo);
              pixels.set(prepareImage(picture, model.inputShape, e.file, fit), files.length * size);
              files.push(e.file);
            } catch (err) {
              problem((err as Error).message);
            }
          }
          if (files.length === 0) continue;
          const probs = model.predict(pixels.subarray(0, files.length * size));
          files.forEach((file, i) => {
            const ranked = Array.from(probs.subarray(i * k, (i + 1) * k), (p, c) => ({ class: c, ...(names ? { name: names[c] } : {}), probability: p }))
              .sort((a, b) => b.probability - a.probability).slice(0, top);
            const show = (r: (typeof ranked)[number], width = 0) => `${r.class}  ${(r.probability * 100).toFixed(2).padStart(width)}%${r.name ? `  ${r.name}` : ''}`;
            if (f.json) console.log(JSON.stringify({ image: file, predictions: ranked }));
            else if (single) for (const r of ranked) console.log(show(r, 6));
            else console.log(`${file}  ${ranked.map((r) => show(r)).join('; ')}`);
          });
        }
      } finally {
        model.dispose();
      }
      if (failed) throw new ExitWith(1);
    });
}
