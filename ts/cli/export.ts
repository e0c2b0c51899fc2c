/** `cnn-wasm export <model> --format onnx --out FILE`: a model file as ONNX, for any ONNX runtime. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { checkWritable, writeFileAtomic } from '../io/files.js';
import { FileProblem, openModel } from './common.js';
import { parseChoice } from './options.js';

export function register(program: Command): void {
  program
    .command('export <model>')
    .description('write a model as ONNX (opset 13): input "pixels" float [N, C, H, W] of 0..255 (the model\'s input shape), output "probabilities"')
    .option('--format <name>', 'onnx', 'onnx')
    .option('--out <file>', 'where to write it (default: the model file with .onnx)')
    .action(async (path: string, f: { format: string; out?: string }) => {
      parseChoice('--format', f.format, ['onnx'] as const);
      const out = resolve(f.out ?? path.replace(/\.cnnw$/, '') + '.onnx');
      try {
        checkWritable(out, '--out');
      } catch (e) {
        throw new FileProblem((e as Error).message);
      }
      const { model } = await openModel(path, 'auto');
      const bytes = model.toOnnx();
      writeFileAtomic(out, bytes);
      console.log(`wrote ${out} (${bytes.length.toLocaleString('en-US')} bytes, ONNX opset 13): input "pixels" [N, ${model.inputShape.join(', ')}] raw 0..255, output "probabilities" [N, ${model.classes}]`);
      model.dispose();
    });
}
