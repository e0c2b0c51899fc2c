/** `cnn-wasm predict <model> <image>`: classify a PNG/PGM digit, MNIST-style centring and resizing. */
import type { Command } from 'commander';
import { decodeRgba, maxImageFileBytes, type Rgba } from '../image/decode.js';
import { prepareImage } from '../image/prepare.js';
import { FileProblem, openModel } from './common.js';
import { classNamesOf, MAGIC } from '../io/modelfile.js';
import { readFileCapped } from '../io/files.js';
import { parseIntFlag } from './options.js';

export function register(program: Command): void {
  program
    .command('predict <model> <image>')
    .description('classify a PNG, JPEG or PGM image, prepared as the model\'s training prepared its images (MNIST-style centring for 28x28 digit models, else resized)')
    .option('--top <k>', 'how many classes to list', '3')
    .option('--backend <name>', 'auto (relaxed, else simd, else scalar: what the engine runs) | relaxed | simd | scalar', 'auto')
    .option('--json', 'print one JSON line')
    .action(async (path: string, image: string, f: { top: string; backend: string; json?: boolean }) => {
      const top = parseIntFlag('--top', f.top, 1, 10);
      let bytes: Uint8Array;
      try {
        bytes = readFileCapped(image, 'a PNG, JPEG or PGM image', maxImageFileBytes());
      } catch (e) {
        throw new FileProblem((e as Error).message);
      }
      if (bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC) {
        throw new FileProblem(`${image} is a cnn-wasm model file, not an image: the arguments look swapped (cnn-wasm predict <model> <image>)`);
      }
      let picture: Rgba;
      try {
        picture = decodeRgba(bytes, image);
      } catch (e) {
        throw new FileProblem(`${image}: ${(e as Error).message.replace(`${image}: `, '')}`);
      }
      const { model, metadata } = await openModel(path, f.backend);
      const names = classNamesOf(metadata, model.classes);
      // Prepared as the model's training prepared its images: a digit model's centring, else resized (gray or RGB).
      const fit = metadata.fit === 'digit' || metadata.fit === 'resize' ? metadata.fit : undefined;
      let pixels: Uint8Array;
      try {
        pixels = prepareImage(picture, model.inputShape, image, fit);
      } catch (e) {
        model.dispose();
        throw new FileProblem(`${image}: ${(e as Error).message.replace(`${image}: `, '')}`);
      }
      const probs = Array.from(model.predict(pixels));
      const ranked = probs.map((p, c) => ({ class: c, ...(names ? { name: names[c] } : {}), probability: p }))
        .sort((a, b) => b.probability - a.probability).slice(0, top);
      if (f.json) console.log(JSON.stringify({ image, predictions: ranked }));
      else for (const r of ranked) console.log(`${r.class}  ${(r.probability * 100).toFixed(2).padStart(6)}%${r.name ? `  ${r.name}` : ''}`);
      model.dispose();
    });
}
