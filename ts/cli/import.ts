/** `cnn-wasm import <model.onnx> --out FILE`: an ONNX graph of our layer kinds as a cnn-wasm model file. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { initBackend } from '../backend/load.js';
import { importOnnx } from '../interop/onnx-import.js';
import { checkWritable, readFileCapped } from '../io/files.js';
import { saveModel } from '../model-file-node.js';
import { MNIST_NORMALIZATION, type Normalization } from '../model.js';
import { FileProblem } from './common.js';
import { parseChoice } from './options.js';

const NORMALIZATIONS: Record<string, Normalization | undefined> = {
  graph: undefined, // the graph's own (identity for PyTorch's exports)
  mnist: MNIST_NORMALIZATION,
  unit: { scale: 1 / 255, mean: 0, std: 1 },
};

export function register(program: Command): void {
  program
    .command('import <model>')
    .description('convert an ONNX model (e.g. from torch.onnx.export) to a cnn-wasm model file that trains further')
    .option('--out <file>', 'where to write it (default: the ONNX file with .cnnw)')
    .option('--normalization <name>', 'how u8 pixels become the graph input: graph (as the graph has it; PyTorch graphs take their input as it is) | mnist ((x/255 - 0.1307)/0.3081) | unit (x/255)', 'graph')
    .action(async (path: string, f: { out?: string; normalization: string }) => {
      const which = parseChoice('--normalization', f.normalization, ['graph', 'mnist', 'unit'] as const);
      const out = resolve(f.out ?? path.replace(/\.onnx$/, '') + '.cnnw');
      try {
        checkWritable(out, '--out');
      } catch (e) {
        throw new FileProblem((e as Error).message);
      }
      let bytes: Uint8Array;
      try {
        bytes = readFileCapped(path, 'an ONNX file');
      } catch (e) {
        throw new FileProblem((e as Error).message);
      }
      const backend = await initBackend();
      let model;
      try {
        model = importOnnx(bytes, { backend, source: path, normalization: NORMALIZATIONS[which] });
      } catch (e) {
        throw new FileProblem((e as Error).message);
      }
      saveModel(model, out, { metadata: { importedFrom: path } });
      console.log(`wrote ${out}: ${model.layers.length} layers, ${model.trainableCount.toLocaleString('en-US')} trainable values, input ${model.inputShape.join('x')}, normalisation ${JSON.stringify(model.normalization)}`);
      model.dispose();
    });
}
